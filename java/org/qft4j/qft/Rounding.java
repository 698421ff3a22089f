package org.qft4j.qft;

import org.qft4j.nativ.QftNative;

/** How the optimizer rounds new dense weights to INT8. */
public enum Rounding {
    /**
     * Up with probability frac(w/scale), from a counter-based RNG keyed by (seed, step, tensor id, element):
     * unbiased, so updates far below one quantization step still move weights in expectation; reproducible
     * and resumable bit-exactly. LionConfig.of's default; the trainer defaults to STOCHASTIC_WEYL.
     */
    STOCHASTIC(QftNative.QFT_ROUND_STOCHASTIC),
    /** Round to nearest even: at fine-tuning learning rates (1e-5) almost no dense weight ever changes. */
    NEAREST(QftNative.QFT_ROUND_NEAREST),
    /**
     * Stochastic rounding whose draws are low-discrepancy over steps: each element's uniform starts at a random
     * point keyed by (seed, tensor id, element) and advances by the golden ratio every step. Each draw alone is
     * uniform (unbiased as STOCHASTIC), but a weight that Lion nudges the same way by a fraction of a code step for
     * many steps moves by the sum of the nudges to within about one code, where independent draws scatter it by
     * sqrt(steps) codes. Reproducible and resumable from (seed, step) like STOCHASTIC; no extra memory. The trainer's
     * default: on the Austen fine-tune of bench/results/austen-quality.md (5 seeds) QFT ends 0.5% behind fp32 Lion
     * with it, 1.1% with STOCHASTIC.
     */
    STOCHASTIC_WEYL(QftNative.QFT_ROUND_STOCHASTIC_WEYL);

    final int code;

    Rounding(int code) {
        this.code = code;
    }

    /** Whether values round up with a probability (every mode but NEAREST). */
    public boolean stochastic() {
        return this != NEAREST;
    }
}
