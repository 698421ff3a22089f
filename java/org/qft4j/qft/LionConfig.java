package org.qft4j.qft;

/**
 * Hyper-parameters of {@link QuantLion} and {@link Fp32Lion} (Lion, arXiv 2302.06675; decoupled weight decay).
 *
 * @param lr            learning rate (Lion wants 3-10x smaller than AdamW's)
 * @param beta1         interpolation of momentum and gradient for the update direction (0.9)
 * @param beta2         momentum decay (0.99)
 * @param weightDecay   decoupled: w *= 1 - lr*weightDecay before the update
 * @param rounding      INT8 rounding of new dense weights (stochastic by default)
 * @param seed          RNG seed of stochastic rounding; with the step count it makes a run reproducible
 * @param reselectEvery re-select the hybrid weights' outliers after every N-th step (0: never)
 */
public record LionConfig(float lr, float beta1, float beta2, float weightDecay, Rounding rounding, long seed,
                         int reselectEvery) {
    public LionConfig {
        if (!(lr >= 0) || !Float.isFinite(lr)) throw new IllegalArgumentException("lr must be finite and >= 0, got " + lr);
        if (!(beta1 >= 0 && beta1 <= 1) || !(beta2 >= 0 && beta2 <= 1))
            throw new IllegalArgumentException("beta1 and beta2 must be in [0, 1], got " + beta1 + ", " + beta2);
        if (!(weightDecay >= 0) || !Float.isFinite(weightDecay))
            throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
        if (rounding == null) throw new IllegalArgumentException("rounding must not be null");
        if (reselectEvery < 0) throw new IllegalArgumentException("reselectEvery must be >= 0, got " + reselectEvery);
    }

    /** lr with Lion's defaults: betas (0.9, 0.99), no weight decay, stochastic rounding, seed 0, no re-selection. */
    public static LionConfig of(float lr) {
        return new LionConfig(lr, 0.9f, 0.99f, 0f, Rounding.STOCHASTIC, 0L, 0);
    }

    public LionConfig withWeightDecay(float wd) {
        return new LionConfig(lr, beta1, beta2, wd, rounding, seed, reselectEvery);
    }

    public LionConfig withRounding(Rounding r) {
        return new LionConfig(lr, beta1, beta2, weightDecay, r, seed, reselectEvery);
    }

    public LionConfig withSeed(long s) {
        return new LionConfig(lr, beta1, beta2, weightDecay, rounding, s, reselectEvery);
    }

    public LionConfig withReselectEvery(int n) {
        return new LionConfig(lr, beta1, beta2, weightDecay, rounding, seed, n);
    }
}
