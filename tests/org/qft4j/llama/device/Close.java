package org.qft4j.llama.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;

/** Test helpers: norm-wise relative comparison of float arrays and seeded random data. */
public final class Close {
    private Close() {}

    /**
     * Asserts max_i |actual - expected| <= rel * max_i |expected| (a relative error measured against the tensor's
     * scale, so that entries near zero do not demand more than fp32 can give), that actual holds no NaN/Inf, and
     * that expected is not all zero (a comparison against zeros would prove nothing).
     */
    public static void assertClose(float[] expected, float[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0, err = 0;
        int worst = 0;
        for (int i = 0; i < expected.length; i++) {
            if (!Float.isFinite(actual[i])) throw new AssertionError(what + ": non-finite " + actual[i] + " at " + i);
            scale = Math.max(scale, Math.abs(expected[i]));
            double d = Math.abs((double) actual[i] - expected[i]);
            if (d > err) {
                err = d;
                worst = i;
            }
        }
        if (scale == 0) throw new AssertionError(what + ": the expected values are all zero, so the comparison would prove nothing");
        if (err > rel * scale)
            throw new AssertionError(String.format("%s: max |diff| %.3g at %d (expected %.8g, got %.8g) exceeds %.1g x max |expected| %.4g "
                    + "(relative %.3g)", what, err, worst, expected[worst], actual[worst], rel, scale, err / scale));
    }

    /** Relative error as {@link #assertClose} measures it. */
    public static double relativeError(float[] expected, float[] actual) {
        double scale = 0, err = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            err = Math.max(err, Math.abs((double) actual[i] - expected[i]));
        }
        return scale == 0 ? err : err / scale;
    }

    public static float[] randn(int n, long seed, double std) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * std);
        return x;
    }

    public static int[] ints(int n, long seed, int bound) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextInt(bound);
        return x;
    }
}
