package org.qft4j.train;

import org.qft4j.qft.Rounding;

import java.util.SplittableRandom;

/**
 * Turns a completed fp32 dW into the form the step keeps: INT8 for QFT tensors of at least {@code fp32Below}
 * elements, fp32 for smaller ones (norm weights) and for every tensor of the fp32 baselines.
 * Seeded: stochastic rounding draws from its own generator, keyed by (seed, step), so two trainers never share
 * random state and a resumed run rounds as the original did.
 */
public final class GradientQuantizer {
    private final boolean int8;
    private final int fp32Below;
    private final Rounding rounding;
    private final long seed;
    private SplittableRandom rng;

    public GradientQuantizer(boolean int8, int fp32Below, Rounding rounding, long seed) {
        this.int8 = int8;
        this.fp32Below = fp32Below;
        this.rounding = rounding;
        this.seed = seed;
        this.rng = new SplittableRandom(seed);
    }

    /**
     * Re-keys the stochastic rounding stream from (seed, step): the random state is a function of the step, so a
     * checkpoint needs only the seed and the step to resume the rounding bit-exactly.
     */
    public void beginStep(long step) {
        rng = new SplittableRandom(seed ^ (step * 0x9E3779B97F4A7C15L));
    }

    public Gradient quantize(int param, float[] dW, int rows, int cols) {
        return keepsInt8(rows, cols) ? Gradient.int8(param, dW, rows, cols, rounding, rng) : Gradient.fp32(param, dW, rows, cols);
    }

    public void accumulate(Gradient into, float[] dW) {
        into.accumulate(dW, rounding, rng);
    }

    public boolean keepsInt8(int rows, int cols) {
        return int8 && (long) rows * cols >= fp32Below;
    }
}
