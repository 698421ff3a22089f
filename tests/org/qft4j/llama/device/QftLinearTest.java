package org.qft4j.llama.device;

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
import org.qft4j.tensor.DType;
import org.qft4j.tensor.LeakCheck;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/** QFT's INT8 linear layer against an independent Java statement of its arithmetic and against fp32. */
class QftLinearTest {
    private static final int N = 13, OUT = 70, IN = 96;

    /** Token t's absmax codes of x (round half even of x * 127 / max), its scale max / 127 into sx[0]. */
    static int[] tokenCodes(float[] x, int t, float[] sx) {
        float max = 0;
        for (int c = 0; c < IN; c++) max = Math.max(max, Math.abs(x[t * IN + c]));
        float inv = max > 0 ? 127f / max : 1f;
        sx[0] = max > 0 ? max / 127f : 1f;
        int[] q = new int[IN];
        for (int c = 0; c < IN; c++) q[c] = (int) Math.max(-127, Math.min(127, Math.rint(x[t * IN + c] * inv)));
        return q;
    }

    /** The definition with fp32 sparse outlier products (see below). */
    static float[] expectedForward(float[] x, HybridWeight w) {
        return expectedForward(x, w, OutlierProducts.FP32_SPARSE);
    }

    /**
     * The definition: per-token absmax codes (round half even), int32 dot with the dense codes, both scales, plus the
     * outliers: their fp32 products with x, or ({@link OutlierProducts#INT8}) as the INT8 GEMM's epilogue adds them,
     * y + (dot(qx, O[r]) * sx) * so[r], with O the row's outliers rounded half even at 127 / absmax.
     */
    static float[] expectedForward(float[] x, HybridWeight w, OutlierProducts mode) {
        byte[] codes = w.codes().toBytes();
        float[] scales = w.scales().toFloats(), values = w.values().toFloats();
        int[] rowPtr = w.rowPtr().toInts(), colIdx = w.colIdx().toInts();
        float[] y = new float[N * OUT];
        for (int t = 0; t < N; t++) {
            float[] sxOut = new float[1];
            int[] q = tokenCodes(x, t, sxOut);
            float sx = sxOut[0];
            for (int r = 0; r < OUT; r++) {
                long dot = 0, outlierDot = 0;
                for (int c = 0; c < IN; c++) dot += (long) q[c] * codes[r * IN + c];
                if (mode == OutlierProducts.FP32_SPARSE) {
                    float v = sx * scales[r] * dot;
                    for (int j = rowPtr[r]; j < rowPtr[r + 1]; j++) v += values[j] * x[t * IN + colIdx[j]];
                    y[t * OUT + r] = v;
                    continue;
                }
                float absmax = 0;
                for (int j = rowPtr[r]; j < rowPtr[r + 1]; j++) absmax = Math.max(absmax, Math.abs(values[j]));
                float so = absmax > 0 ? absmax / 127f : 0f, oinv = absmax > 0 ? 127f / absmax : 1f;
                for (int j = rowPtr[r]; j < rowPtr[r + 1]; j++)
                    outlierDot += (long) q[colIdx[j]] * (long) Math.max(-127, Math.min(127, Math.rint(values[j] * oinv)));
                float v = (float) dot * sx * scales[r];
                y[t * OUT + r] = v + (float) outlierDot * sx * so;
            }
        }
        return y;
    }

    /** {forward, backwardInput (dx0 + dy W)} on a device. */
    static float[][] run(Device d, float[] x, float[] wts, float[] dy, float[] dx0) {
        return run(d, x, wts, dy, dx0, OutlierProducts.FP32_SPARSE);
    }

    static float[][] run(Device d, float[] x, float[] wts, float[] dy, float[] dx0, OutlierProducts mode) {
        try (Scope s = new Scope()) {
            HybridWeight w = s.add(HybridWeight.quantize(s.add(Tensor.of(d, wts, OUT, IN)), HybridConfig.outliers(0.02)));
            QftLinear.Workspace ws = s.add(new QftLinear.Workspace(d, N + 5, IN));
            ws.outliers(mode);
            QftLinear lin = s.add(new QftLinear(w, ws));
            Tensor tx = s.add(Tensor.of(d, x, N, IN)), y = s.add(Tensor.zeros(d, DType.F32, N + 5, OUT));
            lin.forward(tx, N, y);
            Tensor tdy = s.add(Tensor.of(d, dy, N, OUT)), dx = s.add(Tensor.of(d, dx0, N, IN));
            lin.backwardInput(tdy, N, dx, true, s.add(Tensor.zeros(d, DType.F32, OUT * IN + 7)), Fp32Math.FP32);
            float[] yAll = y.toFloats();
            return new float[][] {java.util.Arrays.copyOf(yAll, N * OUT), dx.toFloats(), expectedForward(x, w), s.add(w.dequantize()).toFloats()};
        }
    }

    static float[] inputs(long seed, int n) {
        float[] x = randn(n, seed, 1);
        for (int i = 0; i < n; i += 41) x[i] *= 8; // a few large activations, as in LLMs
        return x;
    }

    @Test
    void forwardIsTheInt8ProductPlusOutliersAndBackwardUsesTheDequantizedWeight() {
        float[] x = inputs(1, N * IN), wts = randn(OUT * IN, 2, 0.05), dy = randn(N * OUT, 3, 1), dx0 = randn(N * IN, 4, 1);
        float[][] got = run(Device.CPU, x, wts, dy, dx0);
        assertClose(got[2], got[0], 1e-5, "forward vs the definition");
        float[] deq = got[3], fp32 = new float[N * OUT], dx = dx0.clone();
        for (int t = 0; t < N; t++)
            for (int r = 0; r < OUT; r++) {
                float s = 0;
                for (int c = 0; c < IN; c++) s += x[t * IN + c] * deq[r * IN + c];
                fp32[t * OUT + r] = s;
                for (int c = 0; c < IN; c++) dx[t * IN + c] += dy[t * OUT + r] * deq[r * IN + c];
            }
        // per-token INT8 activations: within a few code steps (1/127 of the row max) of the fp32 product
        assertClose(fp32, got[0], 3e-2, "forward vs fp32 on the dequantized weight");
        assertClose(dx, got[1], 1e-5, "dx += dy W");
    }

    @Test
    void int8OutlierProductsAreTheSecondInt8Gemm() {
        float[] x = inputs(12, N * IN), wts = randn(OUT * IN, 13, 0.05), dy = randn(N * OUT, 14, 1), dx0 = randn(N * IN, 15, 1);
        for (int k = 0; k < 12; k++) wts[(k * 5) * IN + k * 7] = 2.5f - 0.2f * k;  // outliers that dominate their rows
        float[][] got = run(Device.CPU, x, wts, dy, dx0, OutlierProducts.INT8);
        try (HybridWeight w = HybridWeight.quantize(wts, OUT, IN, HybridConfig.outliers(0.02))) {
            assertClose(expectedForward(x, w, OutlierProducts.INT8), got[0], 1e-6, "forward vs the definition");
        }
        float[] deq = got[3], fp32 = new float[N * OUT];
        for (int t = 0; t < N; t++)
            for (int r = 0; r < OUT; r++)
                for (int c = 0; c < IN; c++) fp32[t * OUT + r] += x[t * IN + c] * deq[r * IN + c];
        assertClose(fp32, got[0], 3e-2, "forward vs fp32 on the dequantized weight");
        assertClose(run(Device.CPU, x, wts, dy, dx0)[0], got[0], 3e-2, "forward vs the fp32 sparse outlier products");
        LeakCheck.assertFlat(Device.CPU, 1, 3, i -> run(Device.CPU, x, wts, dy, dx0, OutlierProducts.INT8));
    }

    @Test
    void workspaceIsFreedAndBadInputsAreRejected() {
        float[] x = inputs(5, N * IN), wts = randn(OUT * IN, 6, 0.05), dy = randn(N * OUT, 7, 1), dx0 = new float[N * IN];
        LeakCheck.assertFlat(Device.CPU, 1, 3, i -> run(Device.CPU, x, wts, dy, dx0));
        try (Scope s = new Scope()) {
            HybridWeight w = s.add(HybridWeight.quantize(wts, OUT, IN, HybridConfig.DEFAULT));
            QftLinear.Workspace ws = s.add(new QftLinear.Workspace(Device.CPU, 4, IN));
            QftLinear lin = s.add(new QftLinear(w, ws));
            Tensor tx = s.add(Tensor.of(Device.CPU, x, N, IN)), y = s.add(Tensor.zeros(Device.CPU, DType.F32, N, OUT));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lin.forward(tx, 5, y));
            assertTrue(e.getMessage().contains("5 tokens exceed the capacity 4"), e.getMessage());
            Tensor small = s.add(Tensor.zeros(Device.CPU, DType.F32, 2, OUT));
            e = assertThrows(IllegalArgumentException.class, () -> lin.forward(tx, 3, small));
            assertTrue(e.getMessage().contains("y must be a F32 tensor on cpu with at least 210 elements, got F32[2, 70]"), e.getMessage());
            // A NaN activation: its token's outputs are NaN (as in fp32), the others are not, and no error stops the layer.
            float[] bad = x.clone();
            bad[IN + 3] = Float.NaN;
            Tensor tbad = s.add(Tensor.of(Device.CPU, bad, N, IN));
            lin.forward(tbad, 4, y);
            float[] out = y.toFloats();
            for (int t = 0; t < 4; t++)
                for (int r = 0; r < OUT; r++) assertEquals(t == 1, Float.isNaN(out[t * OUT + r]), "y[" + t + ", " + r + "]");
            assertEquals(1, ws.nonFiniteRows());
        }
    }

    @Test
    void layersSharingOneWorkspaceComputeAsWithTheirOwn() {
        Device d = Device.CPU;
        float[] x = inputs(8, N * IN), narrow = inputs(9, N * 40);
        try (Scope s = new Scope()) {
            HybridWeight w = s.add(HybridWeight.quantize(s.add(Tensor.of(d, randn(OUT * IN, 10, 0.05), OUT, IN)), HybridConfig.outliers(0.02)));
            HybridWeight v = s.add(HybridWeight.quantize(s.add(Tensor.of(d, randn(OUT * 40, 11, 0.05), OUT, 40)), HybridConfig.outliers(0.02)));
            QftLinear.Workspace ws = s.add(new QftLinear.Workspace(d, N, IN));
            QftLinear own = s.add(new QftLinear(w, N)), shared = s.add(new QftLinear(w, ws)), other = s.add(new QftLinear(v, ws));
            Tensor tx = s.add(Tensor.of(d, x, N, IN)), tn = s.add(Tensor.of(d, narrow, N, 40));
            Tensor a = s.add(Tensor.zeros(d, DType.F32, N, OUT)), b = s.add(Tensor.zeros(d, DType.F32, N, OUT)), c = s.add(Tensor.zeros(d, DType.F32, N, OUT));
            own.forward(tx, N, a);
            other.forward(tn, N, c);
            shared.forward(tx, N, b);
            assertClose(a.toFloats(), b.toFloats(), 0, "shared workspace");
            shared.close();
            other.forward(tn, N, a);
            assertClose(c.toFloats(), a.toFloats(), 0, "closing a layer leaves the shared workspace open");
            QftLinear.Workspace narrowWs = s.add(new QftLinear.Workspace(d, N, IN - 1));
            assertThrows(IllegalArgumentException.class, () -> new QftLinear(w, narrowWs), "too narrow");
        }
    }

    @Test
    @GpuTest
    void cudaMatchesCpu() {
        Device gpu = Gpus.require();
        float[] x = inputs(8, N * IN), wts = randn(OUT * IN, 9, 0.05), dy = randn(N * OUT, 10, 1), dx0 = randn(N * IN, 11, 1);
        float[][] cpu = run(Device.CPU, x, wts, dy, dx0), cuda = run(gpu, x, wts, dy, dx0);
        assertClose(cpu[3], cuda[3], 0, "hybrid quantization");
        assertClose(cpu[0], cuda[0], 1e-5, "forward");
        assertClose(cpu[1], cuda[1], 1e-5, "backward input");
        // INT8 outlier products: integer GEMMs, shared quantizers and epilogue order, so bit for bit.
        cpu = run(Device.CPU, x, wts, dy, dx0, OutlierProducts.INT8);
        cuda = run(gpu, x, wts, dy, dx0, OutlierProducts.INT8);
        org.junit.jupiter.api.Assertions.assertArrayEquals(cpu[0], cuda[0], "forward with INT8 outlier products");
    }
}
