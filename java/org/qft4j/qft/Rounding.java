package org.qft4j.qft;

import org.qft4j.nativ.QftNative;

/** How the optimizer rounds new dense weights to INT8. */
public enum Rounding {
    /**
     * Up with probability frac(w/scale), from a counter-based RNG keyed by (seed, step, tensor id, element):
     * unbiased, so updates far below one quantization step still move weights in expectation; reproducible
     * and resumable bit-exactly. The default.
     */
    STOCHASTIC(QftNative.QFT_ROUND_STOCHASTIC),
    /** Round to nearest even: at fine-tuning learning rates (1e-5) almost no dense weight ever changes. */
    NEAREST(QftNative.QFT_ROUND_NEAREST);

    final int code;

    Rounding(int code) {
        this.code = code;
    }
}
