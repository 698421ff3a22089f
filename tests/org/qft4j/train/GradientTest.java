package org.qft4j.train;

import org.qft4j.qft.Rounding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GradientTest {
    static float[] random(int n, long seed, float scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    @Test
    void roundToNearestIsWithinHalfAStepPerRowAndCostsOneBytePerElement() {
        int rows = 6, cols = 50;
        float[] x = random(rows * cols, 1, 0.01f);
        x[7] = 0.5f; // one large value in row 0 coarsens only row 0's scale
        Gradient g = Gradient.int8(3, x, rows, cols, Rounding.NEAREST, new SplittableRandom(0));
        float[] y = new float[x.length];
        g.dequantize(y);
        for (int r = 0; r < rows; r++) {
            float step = g.scales()[r];
            for (int c = 0; c < cols; c++) assertEquals(x[r * cols + c], y[r * cols + c], step / 2 + 1e-9, "r" + r);
        }
        assertEquals(0.5f / 127, g.scales()[0], 1e-9);
        assertTrue(g.scales()[1] < 0.05f / 127);
        assertEquals(rows * cols + 4L * rows, g.bytes());
        double ss = 0;
        for (float v : y) ss += (double) v * v;
        assertEquals(ss, g.sumSquares(), ss * 1e-6);
    }

    @Test
    void stochasticRoundingIsUnbiasedWhereRoundToNearestIsNot() {
        // 0.3 steps of the row's scale: RTN always gives 0, SR gives 1 with probability 0.3.
        float[] x = new float[64];
        x[0] = 127f;
        for (int i = 1; i < 64; i++) x[i] = 0.3f;
        SplittableRandom rng = new SplittableRandom(5);
        double mean = 0;
        int n = 4000;
        for (int k = 0; k < n; k++) {
            float[] y = new float[64];
            Gradient.int8(0, x, 1, 64, Rounding.STOCHASTIC, rng).dequantize(y);
            for (int i = 1; i < 64; i++) mean += y[i];
        }
        mean /= (double) n * 63;
        assertEquals(0.3, mean, 0.01);
        float[] y = new float[64];
        Gradient.int8(0, x, 1, 64, Rounding.NEAREST, rng).dequantize(y);
        assertEquals(0f, y[1]);
    }

    @Test
    void aNonFiniteValueMakesTheGradientNonFinite() {
        float[] x = random(40, 2, 1f);
        x[33] = Float.NaN;
        assertFalse(Gradient.int8(0, x, 4, 10, Rounding.NEAREST, new SplittableRandom(0)).isFinite());
        x[33] = Float.NEGATIVE_INFINITY;
        assertFalse(Gradient.int8(0, x, 4, 10, Rounding.STOCHASTIC, new SplittableRandom(0)).isFinite());
        assertFalse(Gradient.fp32(0, x, 4, 10).isFinite());
        x[33] = 0;
        assertTrue(Gradient.int8(0, x, 4, 10, Rounding.NEAREST, new SplittableRandom(0)).isFinite());
    }

    @Test
    void accumulationSumsMicroBatchesInPlace() {
        int rows = 4, cols = 32;
        float[] sum = new float[rows * cols];
        Gradient q = null, f = null;
        SplittableRandom rng = new SplittableRandom(9);
        for (int k = 0; k < 4; k++) {
            float[] d = random(rows * cols, 10 + k, 1f);
            for (int i = 0; i < sum.length; i++) sum[i] += d[i];
            if (q == null) {
                q = Gradient.int8(1, d, rows, cols, Rounding.STOCHASTIC, rng);
                f = Gradient.fp32(1, d, rows, cols);
            } else {
                q.accumulate(d, Rounding.STOCHASTIC, rng);
                f.accumulate(d, Rounding.STOCHASTIC, rng);
            }
        }
        float[] yq = new float[sum.length], yf = new float[sum.length];
        q.dequantize(yq);
        f.dequantize(yf);
        assertArrayEquals(sum, yf, 1e-5f);
        // Each requantization adds at most one step of the current scale (SR): 4 steps of the final absmax/127 bound it.
        float absmax = 0;
        for (float v : sum) absmax = Math.max(absmax, Math.abs(v));
        for (int i = 0; i < sum.length; i++) assertEquals(sum[i], yq[i], 4 * 1.5f * absmax / 127, "element " + i);
        assertEquals(rows * cols + 4L * rows, q.bytes());
    }
}
