package org.qft4j.llama.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.assertClose;
import static org.qft4j.llama.device.Close.randn;

import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.LeakCheck;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/** The INT8 backward matmuls against an independent Java statement of their arithmetic and against fp32. */
class Int8BackwardTest {
    private static final int N = 13, OUT = 70, IN = 96;

    static float scale(float absmax) {
        return absmax > 0 ? absmax / 127f : 1f;
    }

    static int code(float v, float s) {
        return (int) Math.max(-127, Math.min(127, Math.rint(v / s)));
    }

    /**
     * dx0 + dy W by the definition: per token, a = dy * sW quantized (absmax, round half even), the exact integer dot with
     * W's codes times a's scale, then the outliers' fp32 products in increasing row order.
     */
    static float[] expectedInput(float[] dy, HybridWeight w, float[] dx0) {
        byte[] codes = w.codes().toBytes();
        float[] sw = w.scales().toFloats(), values = w.values().toFloats();
        int[] rowPtr = w.rowPtr().toInts(), colIdx = w.colIdx().toInts();
        float[] dx = dx0.clone();
        for (int t = 0; t < N; t++) {
            float[] a = new float[OUT];
            float max = 0;
            for (int r = 0; r < OUT; r++) {
                a[r] = dy[t * OUT + r] * sw[r];
                max = Math.max(max, Math.abs(a[r]));
            }
            float s = scale(max);
            long[] dot = new long[IN];
            for (int r = 0; r < OUT; r++) {
                int q = code(a[r], s);
                for (int c = 0; c < IN; c++) dot[c] += (long) q * codes[r * IN + c];
            }
            for (int c = 0; c < IN; c++) dx[t * IN + c] += (float) dot[c] * s;
            for (int r = 0; r < OUT; r++)
                for (int j = rowPtr[r]; j < rowPtr[r + 1]; j++) dx[t * IN + colIdx[j]] += dy[t * OUT + r] * values[j];
        }
        return dx;
    }

    /** dyᵀ x by the definition: both quantized per column over the tokens, the exact integer dot times both scales. */
    static float[] expectedWeight(float[] dy, float[] x) {
        float[] sdy = columnScales(dy, OUT), sx = columnScales(x, IN), dw = new float[OUT * IN];
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN; i++) {
                long dot = 0;
                for (int t = 0; t < N; t++) dot += (long) code(dy[t * OUT + o], sdy[o]) * code(x[t * IN + i], sx[i]);
                dw[o * IN + i] = ((float) dot * sdy[o]) * sx[i];
            }
        return dw;
    }

    static float[] columnScales(float[] m, int cols) {
        float[] s = new float[cols];
        for (int c = 0; c < cols; c++) {
            float max = 0;
            for (int t = 0; t < N; t++) max = Math.max(max, Math.abs(m[t * cols + c]));
            s[c] = scale(max);
        }
        return s;
    }

    static float[] fp32Input(float[] dy, float[] deq, float[] dx0) {
        float[] dx = dx0.clone();
        for (int t = 0; t < N; t++)
            for (int r = 0; r < OUT; r++)
                for (int c = 0; c < IN; c++) dx[t * IN + c] += dy[t * OUT + r] * deq[r * IN + c];
        return dx;
    }

    static float[] fp32Weight(float[] dy, float[] x) {
        float[] dw = new float[OUT * IN];
        for (int t = 0; t < N; t++)
            for (int o = 0; o < OUT; o++)
                for (int i = 0; i < IN; i++) dw[o * IN + i] += dy[t * OUT + o] * x[t * IN + i];
        return dw;
    }

    /** {dx accumulated onto dx0, dW written (from dy and x), the dequantized weight, the expected dx} on device d. */
    static float[][] run(Device d, float[] wts, float[] dy, float[] x, float[] dx0) {
        return run(d, wts, dy, x, dx0, 0.03);
    }

    static float[][] run(Device d, float[] wts, float[] dy, float[] x, float[] dx0, double outliers) {
        return run(d, wts, dy, x, dx0, outliers, OutlierProducts.FP32_SPARSE);
    }

    static float[][] run(Device d, float[] wts, float[] dy, float[] x, float[] dx0, double outliers, OutlierProducts mode) {
        try (Scope s = new Scope()) {
            HybridWeight w = s.add(HybridWeight.quantize(s.add(Tensor.of(d, wts, OUT, IN)), HybridConfig.outliers(outliers)));
            Int8Backward b = s.add(new Int8Backward(d, N + 3, OUT, IN, (long) OUT * IN, w.nnz()));
            Tensor tdy = s.add(Tensor.of(d, dy, N, OUT)), dx = s.add(Tensor.of(d, dx0, N, IN)), tx = s.add(Tensor.of(d, x, N, IN));
            Tensor dw = s.add(Tensor.of(d, new float[OUT * IN], OUT, IN));
            b.input(w, tdy, N, dx, true, mode);
            b.weight(tdy, tx, N, dw, false);
            return new float[][] {dx.toFloats(), dw.toFloats(), s.add(w.dequantize()).toFloats(), expectedInput(dy, w, dx0)};
        }
    }

    @Test
    void inputAndWeightGradientsAreTheInt8ProductsPlusOutliers() {
        float[] wts = QftLinearTest.inputs(1, OUT * IN), x = QftLinearTest.inputs(2, N * IN), dx0 = randn(N * IN, 3, 1);
        for (int i = 0; i < wts.length; i++) wts[i] *= 0.05f;
        float[] dy = QftLinearTest.inputs(4, N * OUT);
        float[][] got = run(Device.CPU, wts, dy, x, dx0);
        assertClose(got[3], got[0], 1e-5, "dx += dy W vs the definition");
        // per-token INT8 dy: within a few code steps (1/127 of the token's max) of the fp32 product
        assertClose(fp32Input(dy, got[2], dx0), got[0], 3e-2, "dx vs fp32 on the dequantized weight");
        assertClose(expectedWeight(dy, x), got[1], 1e-5, "dW vs the definition");
        assertClose(fp32Weight(dy, x), got[1], 3e-2, "dW vs fp32");
    }

    @Test
    void outliersTakeTheirFp32Part() {
        // Without the sparse part dx would miss the outliers' products: ten large weights dominate this matrix.
        float[] wts = randn(OUT * IN, 5, 0.01), dy = randn(N * OUT, 6, 1), x = randn(N * IN, 7, 1), dx0 = new float[N * IN];
        for (int k = 0; k < 10; k++) wts[(k * 7) * IN + k * 9] = 3f - k;
        float[][] got = run(Device.CPU, wts, dy, x, dx0);
        assertClose(fp32Input(dy, got[2], dx0), got[0], 3e-2, "dx with dominant outliers");
    }

    @Test
    void int8OutlierProductsTrackTheFp32Ones() {
        // The outliers' part of dx on the INT8 GEMM: dy * sO quantized per token against the INT8 image of S. Ten dominant
        // outliers make their products most of dx, so a lost or misplaced one would show far above the INT8 rounding.
        float[] wts = randn(OUT * IN, 5, 0.01), dy = randn(N * OUT, 6, 1), x = randn(N * IN, 7, 1), dx0 = randn(N * IN, 8, 1);
        for (int k = 0; k < 10; k++) wts[(k * 7) * IN + k * 9] = 3f - k;
        float[][] sparse = run(Device.CPU, wts, dy, x, dx0, 0.03, OutlierProducts.FP32_SPARSE);
        float[][] int8 = run(Device.CPU, wts, dy, x, dx0, 0.03, OutlierProducts.INT8);
        assertClose(fp32Input(dy, int8[2], dx0), int8[0], 3e-2, "dx with INT8 outlier products vs fp32 on the dequantized weight");
        assertClose(sparse[0], int8[0], 3e-2, "dx: INT8 vs fp32 sparse outlier products");
        assertTrue(Close.relativeError(sparse[0], int8[0]) > 0, "the two modes compute differently");
        assertArrayEquals(sparse[1], int8[1], "dW does not involve the outlier products");
    }

    @Test
    void aWeightWithoutOutliersTakesTheDensePathAlone() {
        float[] wts = randn(OUT * IN, 23, 0.05), dy = randn(N * OUT, 24, 1), x = randn(N * IN, 25, 1), dx0 = randn(N * IN, 26, 1);
        float[][] got = run(Device.CPU, wts, dy, x, dx0, 0);
        assertClose(got[3], got[0], 1e-5, "dx += dy W with no outliers, vs the definition");
    }

    @Test
    void nonFiniteGradientsBecomeNaNWithoutAnError() {
        Device d = Device.CPU;
        float[] wts = randn(OUT * IN, 8, 0.05), dy = randn(N * OUT, 9, 1), x = randn(N * IN, 10, 1);
        dy[3 * OUT + 5] = Float.NaN;
        try (Scope s = new Scope()) {
            HybridWeight w = s.add(HybridWeight.quantize(wts, OUT, IN, HybridConfig.DEFAULT));
            Int8Backward b = s.add(new Int8Backward(d, N, OUT, IN, (long) OUT * IN, w.nnz()));
            Tensor tdy = s.add(Tensor.of(d, dy, N, OUT)), tx = s.add(Tensor.of(d, x, N, IN));
            Tensor dx = s.add(Tensor.of(d, new float[N * IN], N, IN)), dw = s.add(Tensor.of(d, new float[OUT * IN], OUT, IN));
            b.input(w, tdy, N, dx, false, OutlierProducts.FP32_SPARSE);
            b.weight(tdy, tx, N, dw, false);
            float[] gx = dx.toFloats(), gw = dw.toFloats();
            for (int t = 0; t < N; t++)
                for (int c = 0; c < IN; c++) assertEquals(t == 3, Float.isNaN(gx[t * IN + c]), "dx[" + t + ", " + c + "]");
            for (int o = 0; o < OUT; o++)
                for (int i = 0; i < IN; i++) assertEquals(o == 5, Float.isNaN(gw[o * IN + i]), "dW[" + o + ", " + i + "]");
            assertEquals(2, b.nonFiniteVectors(), "token 3 of dy (input gradient) and column 5 of dy (weight gradient)");
        }
    }

    @Test
    void scratchLimitsAreErrorsNamingShapesAndCloseFreesEverything() {
        Device d = Device.CPU;
        float[] wts = randn(OUT * IN, 11, 0.05), dy = randn(N * OUT, 12, 1), x = randn(N * IN, 13, 1);
        LeakCheck.assertFlat(d, 1, 3, i -> run(d, wts, dy, x, new float[N * IN]));
        try (Scope s = new Scope()) {
            HybridWeight w = s.add(HybridWeight.quantize(wts, OUT, IN, HybridConfig.DEFAULT));
            Int8Backward b = s.add(new Int8Backward(d, N - 1, OUT, IN, (long) OUT * IN, w.nnz()));
            Tensor tdy = s.add(Tensor.of(d, dy, N, OUT)), tx = s.add(Tensor.of(d, x, N, IN));
            Tensor dx = s.add(Tensor.of(d, new float[N * IN], N, IN)), dw = s.add(Tensor.of(d, new float[OUT * IN], OUT, IN));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.input(w, tdy, N, dx, false, OutlierProducts.FP32_SPARSE));
            assertTrue(e.getMessage().contains("over 13 tokens exceeds the scratch's (70, 96) over 12"), e.getMessage());
            Tensor small = s.add(Tensor.of(d, new float[IN], 1, IN));
            e = assertThrows(IllegalArgumentException.class, () -> b.input(w, tdy, 4, small, false, OutlierProducts.FP32_SPARSE));
            assertTrue(e.getMessage().contains("dx must be a F32 tensor on cpu with at least 384 elements"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> b.weight(tdy, tx, N, dw, false));
            assertTrue(e.getMessage().contains("dw (70, 96) over 13 tokens exceeds the scratch's (70, 96) over 12"), e.getMessage());
            b.close();
            b.close();
            assertThrows(IllegalStateException.class, () -> b.weight(tdy, tx, 4, dw, false));
        }
    }

    @Test
    @GpuTest
    void cudaMatchesTheCpu() {
        Device gpu = Gpus.require();
        float[] wts = QftLinearTest.inputs(14, OUT * IN), x = QftLinearTest.inputs(15, N * IN), dx0 = randn(N * IN, 16, 1);
        for (int i = 0; i < wts.length; i++) wts[i] *= 0.05f;
        float[] dy = QftLinearTest.inputs(17, N * OUT);
        for (OutlierProducts mode : OutlierProducts.values()) {
            float[][] cpu = run(Device.CPU, wts, dy, x, dx0, 0.03, mode), cuda = run(gpu, wts, dy, x, dx0, 0.03, mode);
            assertArrayEquals(cpu[2], cuda[2], mode + ": hybrid quantization");
            if (mode == OutlierProducts.FP32_SPARSE) {
                // Below 17 tokens the CUDA sparse add sums a row's outliers lane-strided, then across the warp
                // (hybrid_weight.cu, few-token kernel): the reference's sum in another order (HybridWeightTest's bound).
                for (int i = 0; i < cpu[0].length; i++)
                    assertEquals(cpu[0][i], cuda[0][i], 1e-6f + 1e-5f * Math.abs(cpu[0][i]), mode + ": dx[" + i + "]");
            } else {
                assertArrayEquals(cpu[0], cuda[0], mode + ": dx");
            }
            assertArrayEquals(cpu[1], cuda[1], mode + ": dW");
        }
    }
}
