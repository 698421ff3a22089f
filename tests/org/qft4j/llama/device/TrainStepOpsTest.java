package org.qft4j.llama.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.Qft4jException;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.TrainStepNative;
import org.qft4j.qft.Fp32Lion;
import org.qft4j.qft.Int8Blocks;
import org.qft4j.qft.LionConfig;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/** The training-step helpers of train_step.h: row sums of squares, scaling, fp32 Lion with a gradient scale. */
class TrainStepOpsTest {
    static float[] gaussian(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 0.3);
        return x;
    }

    static double[] readF64(Tensor t, int n) {
        long[] bits = new long[n];
        NativeStatus.check(CoreNative.qft_copy_to_host(t.device().nativeId(), bits, t.address(), 8L * n), "reading");
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = Double.longBitsToDouble(bits[i]);
        return d;
    }

    static double[] rowSumsq(Device d, float[] x, int rows, int cols, int block) {
        Natives.load(TrainStepNative.class);
        try (Tensor t = Tensor.of(d, x, rows, cols); Tensor out = Tensor.zeros(d, DType.I64, rows)) {
            if (block == 0) NativeStatus.check(TrainStepNative.qft_f32_row_sumsq(d.nativeId(), t.address(), rows, cols, out.address()), "f32");
            else try (Int8Blocks q = Int8Blocks.quantize(t, block, false)) {
                NativeStatus.check(TrainStepNative.qft_int8_blocks_row_sumsq(d.nativeId(), q.codes().address(), q.scales().address(), rows,
                        cols, block, out.address()), "int8");
            }
            return readF64(out, rows);
        }
    }

    static float[] lion(Device d, float[] w, float[] g, float[] m, float scale, LionConfig c) {
        Natives.load(TrainStepNative.class);
        try (Tensor tw = Tensor.of(d, w, w.length); Tensor tg = Tensor.of(d, g, g.length); Tensor tm = Tensor.of(d, m, m.length);
             Tensor ts = Tensor.of(d, new float[] {scale}, 1)) {
            NativeStatus.check(TrainStepNative.qft_lion_fp32_scaled_step(d.nativeId(), tw.address(), tg.address(), tm.address(), w.length,
                    c.lr(), c.beta1(), c.beta2(), c.weightDecay(), ts.address()), "lion");
            float[] wm = new float[2 * w.length];
            System.arraycopy(tw.toFloats(), 0, wm, 0, w.length);
            System.arraycopy(tm.toFloats(), 0, wm, w.length, w.length);
            return wm;
        }
    }

    @Test
    void rowSumsOfSquaresMatchJavaInDouble() {
        int rows = 5, cols = 300;
        float[] x = gaussian(rows * cols, 1);
        double[] f32 = rowSumsq(Device.CPU, x, rows, cols, 0);
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += (double) x[r * cols + c] * x[r * cols + c];
            assertEquals(s, f32[r], 0, "fp32 row " + r);
        }
        for (int block : new int[] {64, 300, 1000}) {
            double[] q = rowSumsq(Device.CPU, x, rows, cols, block);
            float[] dq;
            try (Int8Blocks b = Int8Blocks.quantize(x, rows, cols, block, false)) {
                dq = b.dequantizeToArray();
            }
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) s += (double) dq[r * cols + c] * dq[r * cols + c];
                assertEquals(s, q[r], 0, "int8 block " + block + " row " + r);
            }
        }
    }

    @Test
    void aNonFiniteValueMakesItsRowSumNonFinite() {
        float[] x = gaussian(4 * 40, 2);
        x[2 * 40 + 5] = Float.NaN;
        for (int block : new int[] {0, 16}) {
            double[] s = rowSumsq(Device.CPU, x, 4, 40, block);
            assertTrue(Double.isFinite(s[1]) && Double.isFinite(s[3]));
            assertTrue(Double.isNaN(s[2]), "block " + block);
        }
    }

    @Test
    void scaledLionIsFp32LionOnTheScaledGradient() {
        int n = 1000;
        float[] w = gaussian(n, 3), g = gaussian(n, 4), m = gaussian(n, 5);
        LionConfig c = LionConfig.of(1e-3f).withWeightDecay(0.1f);
        for (float scale : new float[] {1f, 0.37f}) {
            float[] wRef = w.clone(), mRef = m.clone(), gs = g.clone();
            for (int i = 0; i < n; i++) gs[i] *= scale;
            Fp32Lion.step(wRef, gs, mRef, c);
            float[] got = lion(Device.CPU, w, g, m, scale, c);
            float[] want = new float[2 * n];
            System.arraycopy(wRef, 0, want, 0, n);
            System.arraycopy(mRef, 0, want, n, n);
            assertArrayEquals(want, got, "grad scale " + scale);
        }
    }

    /**
     * As {@link #stochastic}, quantizing rows [0, cuts[0]), [cuts[0], cuts[1]), ... .. rows one range at a time from a buffer
     * holding only that range, as backward streams a gradient; the same codes and scales as at once.
     */
    static float[] stochasticInRowRanges(Device d, float[] x, int rows, int cols, int block, long seed, long step, long tensor, int... cuts) {
        Natives.load(TrainStepNative.class);
        try (Int8Blocks q = Int8Blocks.zeros(d, rows, cols, block)) {
            int nb = (cols + block - 1) / block, r0 = 0;
            for (int i = 0; i <= cuts.length; i++) {
                int r1 = i < cuts.length ? cuts[i] : rows;
                try (Tensor part = Tensor.of(d, java.util.Arrays.copyOfRange(x, r0 * cols, r1 * cols), r1 - r0, cols)) {
                    NativeStatus.check(TrainStepNative.qft_int8_blocks_quantize_stochastic(d.nativeId(), part.address(), r1 - r0, cols, block, seed,
                            step, tensor, r0, q.codes().address() + (long) r0 * cols, q.scales().address() + 4L * r0 * nb), "rows " + r0);
                }
                r0 = r1;
            }
            byte[] codes = q.codes().toBytes();
            float[] scales = q.scales().toFloats(), out = new float[codes.length + scales.length];
            for (int i = 0; i < codes.length; i++) out[i] = codes[i];
            System.arraycopy(scales, 0, out, codes.length, scales.length);
            return out;
        }
    }

    /** codes then scales (as floats after the codes) of a stochastic quantization. */
    static float[] stochastic(Device d, float[] x, int rows, int cols, int block, long seed, long step, long tensor) {
        Natives.load(TrainStepNative.class);
        try (Tensor t = Tensor.of(d, x, rows, cols); Int8Blocks q = Int8Blocks.zeros(d, rows, cols, block)) {
            NativeStatus.check(TrainStepNative.qft_int8_blocks_quantize_stochastic(d.nativeId(), t.address(), rows, cols, block, seed, step,
                    tensor, 0, q.codes().address(), q.scales().address()), "stochastic");
            byte[] codes = q.codes().toBytes();
            float[] scales = q.scales().toFloats(), out = new float[codes.length + scales.length];
            for (int i = 0; i < codes.length; i++) out[i] = codes[i];
            System.arraycopy(scales, 0, out, codes.length, scales.length);
            return out;
        }
    }

    @Test
    void stochasticQuantizationIsUnbiasedAndKeyedBySeedStepAndTensor() {
        int rows = 3, cols = 70, block = 32, n = rows * cols;
        float[] x = gaussian(n, 11);
        float[] nearestScales;
        try (Int8Blocks q = Int8Blocks.quantize(x, rows, cols, block, false)) {
            nearestScales = q.scales().toFloats();
        }
        float[] first = stochastic(Device.CPU, x, rows, cols, block, 1, 2, 3);
        assertArrayEquals(nearestScales, java.util.Arrays.copyOfRange(first, n, first.length), "the same block scales as round to nearest");
        assertArrayEquals(first, stochastic(Device.CPU, x, rows, cols, block, 1, 2, 3), "same key, same codes");
        assertArrayEquals(first, stochasticInRowRanges(Device.CPU, x, rows, cols, block, 1, 2, 3, 1), "row ranges {0}, {1, 2}: the same codes");
        assertArrayEquals(first, stochasticInRowRanges(Device.CPU, x, rows, cols, block, 1, 2, 3, 1, 2), "one row at a time: the same codes");
        for (long[] key : new long[][] {{9, 2, 3}, {1, 5, 3}, {1, 2, 4}})
            assertTrue(!java.util.Arrays.equals(first, stochastic(Device.CPU, x, rows, cols, block, key[0], key[1], key[2])),
                    "key " + java.util.Arrays.toString(key) + " draws other bits");
        int draws = 400;
        double[] mean = new double[n];
        for (int s = 0; s < draws; s++) {
            float[] q = stochastic(Device.CPU, x, rows, cols, block, 7, s, 0);
            for (int i = 0; i < n; i++) {
                float code = q[i];
                assertTrue(Math.abs(code - x[i] / nearestScales[(i / cols) * 3 + (i % cols) / block]) < 1.0001, "code within one step of x/scale");
                mean[i] += (double) code * nearestScales[(i / cols) * 3 + (i % cols) / block] / draws;
            }
        }
        for (int i = 0; i < n; i++) {
            float scale = nearestScales[(i / cols) * 3 + (i % cols) / block];
            // a Bernoulli(p) code step has standard deviation <= scale/2; the mean of 400 draws is within 5 sigma
            assertEquals(x[i], mean[i], 5 * 0.5 * scale / Math.sqrt(draws), "E[code*scale] = x at " + i);
        }
        float[] bad = x.clone();
        bad[cols + 40] = Float.POSITIVE_INFINITY;
        float[] q = stochastic(Device.CPU, bad, rows, cols, block, 1, 2, 3);
        assertTrue(Float.isNaN(q[n + 3 + 1]), "the non-finite block's scale is NaN");
        assertTrue(Float.isFinite(q[n + 3]) && Float.isFinite(q[n + 3 + 2]), "other blocks of the row keep their scales");
    }

    @Test
    void scaleMultipliesInPlace() {
        Natives.load(TrainStepNative.class);
        float[] x = gaussian(777, 6);
        try (Tensor t = Tensor.of(Device.CPU, x, x.length); Tensor a = Tensor.of(Device.CPU, new float[] {0.25f}, 1)) {
            NativeStatus.check(TrainStepNative.qft_f32_scale(-1, t.address(), x.length, a.address()), "scale");
            float[] y = t.toFloats();
            for (int i = 0; i < x.length; i++) assertEquals(x[i] * 0.25f, y[i]);
        }
    }

    /** qft_clip_factors on sums (rows of each tensor consecutive) after a state: {factors..., state as doubles...}. */
    static double[] clipFactors(Device d, double[] sums, long[] rows, double clipNorm, boolean perTensor, long[] state) {
        Natives.load(TrainStepNative.class);
        long[] bits = new long[sums.length];
        for (int i = 0; i < sums.length; i++) bits[i] = Double.doubleToRawLongBits(sums[i]);
        try (Tensor ts = Tensor.zeros(d, DType.I64, sums.length); Tensor st = Tensor.zeros(d, DType.I64, 4);
             Tensor f = Tensor.zeros(d, DType.F32, rows.length)) {
            NativeStatus.check(CoreNative.qft_copy_from_host(d.nativeId(), ts.address(), bits, 8L * bits.length), "sums");
            NativeStatus.check(CoreNative.qft_copy_from_host(d.nativeId(), st.address(), state, 32), "state");
            NativeStatus.check(TrainStepNative.qft_clip_factors(d.nativeId(), ts.address(), rows, rows.length, clipNorm, perTensor ? 1 : 0,
                    st.address(), f.address()), "clip factors");
            float[] fs = f.toFloats();
            long[] out = new long[4];
            NativeStatus.check(CoreNative.qft_copy_to_host(d.nativeId(), out, st.address(), 32), "reading the state");
            double[] r = new double[fs.length + 4];
            for (int i = 0; i < fs.length; i++) r[i] = fs[i];
            for (int i = 0; i < 3; i++) r[fs.length + i] = out[i];
            r[fs.length + 3] = Double.longBitsToDouble(out[3]);
            return r;
        }
    }

    @Test
    void clipFactorsFollowTheFusedPolicy() {
        // Tensors of 2, 3 and 1 rows: norms 5, sqrt(2), 13; per-tensor clipping at 4.
        double[] sums = {9, 16, 1, 0.5, 0.5, 169};
        long[] rows = {2, 3, 1};
        double[] r = clipFactors(Device.CPU, sums, rows, 4.0, true, new long[4]);
        assertArrayEquals(new double[] {(float) (4.0 / 5), 1, (float) (4.0 / 13), 0, 3, 0, 13}, r, "factors, then poisoned, updated, skipped, max norm");
        r = clipFactors(Device.CPU, sums, rows, 4.0, false, new long[4]);
        assertArrayEquals(new double[] {1, 1, 1, 0, 3, 0, 13}, r, "no clipping: factors 1, the norms still counted");
        // A NaN row in the second tensor: the first is updated, the second and every later one skipped (NaN factor).
        sums[3] = Double.NaN;
        r = clipFactors(Device.CPU, sums, rows, 4.0, true, new long[4]);
        assertEquals((float) (4.0 / 5), r[0]);
        assertTrue(Double.isNaN(r[1]) && Double.isNaN(r[2]), "skipped tensors get NaN factors");
        assertArrayEquals(new double[] {1, 1, 2, 5}, java.util.Arrays.copyOfRange(r, 3, 7), "poisoned, 1 updated, 2 skipped, max norm 5");
        // A state already poisoned by an earlier group of the step skips everything; counts carry on.
        r = clipFactors(Device.CPU, new double[] {1, 1, 1, 1, 1, 1}, rows, 4.0, true, new long[] {1, 4, 1, Double.doubleToRawLongBits(7)});
        assertTrue(Double.isNaN(r[0]) && Double.isNaN(r[1]) && Double.isNaN(r[2]));
        assertArrayEquals(new double[] {1, 4, 4, 7}, java.util.Arrays.copyOfRange(r, 3, 7));
    }

    @Test
    void aNonFiniteGradientScaleSkipsFp32Lion() {
        float[] w = gaussian(100, 11), g = gaussian(100, 12), m = gaussian(100, 13);
        LionConfig c = LionConfig.of(1e-3f).withWeightDecay(0.1f);
        for (float scale : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            float[] wm = lion(Device.CPU, w, g, m, scale, c);
            assertArrayEquals(w, java.util.Arrays.copyOfRange(wm, 0, 100), "w unchanged for scale " + scale);
            assertArrayEquals(m, java.util.Arrays.copyOfRange(wm, 100, 200), "m unchanged for scale " + scale);
        }
    }

    @Test
    void badArgumentsAreRejectedWithShapes() {
        Natives.load(TrainStepNative.class);
        int st = TrainStepNative.qft_int8_blocks_row_sumsq(-1, 8, 8, 3, 4, 0, 8);
        assertEquals(org.qft4j.NativeStatus.EINVAL, st);
        Qft4jException e = org.junit.jupiter.api.Assertions.assertThrows(Qft4jException.class,
                () -> NativeStatus.check(TrainStepNative.qft_f32_row_sumsq(-1, 0, 3, 4, 8), "f32 row sums"));
        assertTrue(e.getMessage().contains("(3, 4)"), e.getMessage());
    }

    @Test
    @GpuTest
    void cudaMatchesTheReferences() {
        Device gpu = Gpus.require();
        int rows = 37, cols = 1000;
        float[] x = gaussian(rows * cols, 7);
        for (int block : new int[] {0, 256, 4096}) {
            double[] cpu = rowSumsq(Device.CPU, x, rows, cols, block), cuda = rowSumsq(gpu, x, rows, cols, block);
            for (int r = 0; r < rows; r++) assertEquals(cpu[r], cuda[r], 1e-12 * cpu[r], "block " + block + " row " + r);
            assertArrayEquals(cuda, rowSumsq(gpu, x, rows, cols, block), "CUDA row sums repeat bit for bit");
        }
        for (int block : new int[] {64, 1000})
            assertArrayEquals(stochastic(Device.CPU, x, rows, cols, block, 3, 4, 5), stochastic(gpu, x, rows, cols, block, 3, 4, 5),
                    "stochastic INT8 blocks bit-identical, block " + block);
        assertArrayEquals(stochastic(gpu, x, rows, cols, 64, 3, 4, 5), stochasticInRowRanges(gpu, x, rows, cols, 64, 3, 4, 5, rows / 3, rows / 2),
                "CUDA: in row ranges, the same codes");
        float[] w = gaussian(5000, 8), g = gaussian(5000, 9), m = gaussian(5000, 10);
        LionConfig c = LionConfig.of(1e-3f).withWeightDecay(0.1f);
        assertArrayEquals(lion(Device.CPU, w, g, m, 0.61f, c), lion(gpu, w, g, m, 0.61f, c), "fp32 Lion bit-identical");
        assertArrayEquals(lion(Device.CPU, w, g, m, Float.NaN, c), lion(gpu, w, g, m, Float.NaN, c), "a NaN scale skips fp32 Lion");
        double[] sums = new double[40];
        float[] raw = gaussian(40, 14);
        for (int i = 0; i < sums.length; i++) sums[i] = (double) raw[i] * raw[i] * 1e3;
        long[] tensorRows = {7, 1, 20, 12};
        assertArrayEquals(clipFactors(Device.CPU, sums, tensorRows, 30.0, true, new long[4]),
                clipFactors(gpu, sums, tensorRows, 30.0, true, new long[4]), "clip factors and state bit-identical");
        sums[9] = Double.POSITIVE_INFINITY;
        assertArrayEquals(clipFactors(Device.CPU, sums, tensorRows, 30.0, true, new long[4]),
                clipFactors(gpu, sums, tensorRows, 30.0, true, new long[4]),
                "with a non-finite tensor");
        try (Tensor t = Tensor.of(gpu, x, x.length); Tensor a = Tensor.of(gpu, new float[] {0.3f}, 1)) {
            NativeStatus.check(TrainStepNative.qft_f32_scale(gpu.nativeId(), t.address(), x.length, a.address()), "scale");
            float[] y = t.toFloats();
            for (int i = 0; i < x.length; i++) assertEquals(x[i] * 0.3f, y[i]);
        }
    }
}
