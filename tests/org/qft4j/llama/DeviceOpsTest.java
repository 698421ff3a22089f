package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.assertClose;
import static org.qft4j.llama.device.Close.ints;
import static org.qft4j.llama.device.Close.randn;

import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.Natives;
import org.qft4j.Qft4jException;
import org.qft4j.llama.device.DeviceOps;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.EngineNative;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/** Each native op's C++ reference (Device.CPU) against the Java engine's classes on random data. */
class DeviceOpsTest {
    private static final double REL = 1e-5;
    private static final Device CPU = Device.CPU;

    @Test
    void embeddingMatchesRowLookupAndRowGradient() {
        int vocab = 11, c = 13;
        int[] ids = {3, 0, 10, 3, 7, 3, 1};
        float[] table = randn(vocab * c, 1, 1), dout = randn(ids.length * c, 2, 1);
        Fp32Matrix m = new Fp32Matrix(vocab, c, table.clone());
        float[] out = new float[ids.length * c];
        for (int i = 0; i < ids.length; i++) {
            m.row(ids[i], out, i * c);
            m.accumulateRowGradient(ids[i], dout, i * c);
        }
        float[][] got = DeviceOpRuns.embedding(CPU, table, vocab, c, ids, dout, new float[vocab * c]);
        assertArrayEquals(out, got[0]);
        assertArrayEquals(m.gradient(), got[1]);
        // A row range of the gradient from its own buffer (ids outside it skipped): the same rows bit for bit.
        for (int[] range : new int[][] {{0, 4}, {3, 5}, {10, 1}})
            assertArrayEquals(java.util.Arrays.copyOfRange(m.gradient(), range[0] * c, (range[0] + range[1]) * c),
                    DeviceOpRuns.embeddingGradientRows(CPU, dout, ids, vocab, c, range[0], range[1]), "rows from " + range[0]);
    }

    @Test
    void hybridEmbeddingLooksUpTheDequantizedRowsBitForBit() {
        int vocab = 40, c = 33;
        int[] ids = {3, 0, 39, 3, 17, 21};
        float[] table = randn(vocab * c, 5, 1);
        table[17 * c + 4] = 40f; // an outlier in a looked-up row
        float[] deq = new float[vocab * c], want = new float[ids.length * c];
        try (HybridWeight h = HybridWeight.quantize(table, vocab, c, HybridConfig.DEFAULT)) {
            assertTrue(h.nnz() > 0);
            h.dequantize(deq);
        }
        for (int i = 0; i < ids.length; i++) System.arraycopy(deq, ids[i] * c, want, i * c, c);
        assertArrayEquals(want, DeviceOpRuns.hybridEmbedding(CPU, table, vocab, c, ids));
        assertEquals(40f, want[4 * c + 4], "the outlier row keeps its fp32 value");
        Qft4jException e = assertThrows(Qft4jException.class, () -> DeviceOpRuns.hybridEmbedding(CPU, table, vocab, c, new int[] {1, 40}));
        assertTrue(e.getMessage().contains("1 of 2 ids are outside [0, 40)"), e.getMessage());
    }

    @Test
    void rmsnormMatchesJavaForwardAndAccumulatingBackward() {
        int n = 9, c = 40;
        float eps = 1e-5f;
        float[] x = randn(n * c, 3, 2), w = randn(c, 4, 1), dy = randn(n * c, 5, 1), dx0 = randn(n * c, 6, 1), dw0 = randn(c, 7, 1);
        float[] y = new float[n * c], rstd = new float[n], dx = dx0.clone(), dw = dw0.clone();
        RmsNorm.forward(x, w, y, rstd, n, c, eps);
        RmsNorm.backward(dy, x, w, rstd, dx, dw, n, c);
        float[][] got = DeviceOpRuns.rmsnorm(CPU, x, w, dy, dx0, dw0, n, c, eps);
        assertClose(y, got[0], REL, "y");
        assertClose(rstd, got[1], REL, "rstd");
        assertClose(dx, got[2], REL, "dx");
        assertClose(dw, got[3], REL, "dw");
    }

    @Test
    void ropeMatchesJavaInBothLayoutsAndDirections() {
        int heads = 3, hs = 8, T = 6, n = 2 * T;
        for (RopeLayout layout : RopeLayout.values())
            for (boolean inverse : new boolean[] {false, true}) {
                LlamaConfig cfg = DeviceOpRuns.config(heads, heads, hs, T, layout);
                float[] x = randn(n * heads * hs, 8, 1), expected = x.clone();
                Rope rope = new Rope(cfg);
                for (int r = 0; r < n; r++) rope.rotate(expected, r * heads * hs, heads, r % T, inverse);
                assertClose(expected, DeviceOpRuns.rope(CPU, x, n, T, heads, cfg, inverse), REL, layout + (inverse ? " inverse" : " forward"));
            }
    }

    @Test
    void ropeInverseUndoesForward() {
        int heads = 2, hs = 6, T = 5;
        LlamaConfig cfg = DeviceOpRuns.config(heads, heads, hs, T, RopeLayout.ROTATE_HALF);
        float[] x = randn(T * heads * hs, 9, 1);
        assertClose(x, DeviceOpRuns.rope(CPU, DeviceOpRuns.rope(CPU, x, T, T, heads, cfg, false), T, T, heads, cfg, true), 1e-6, "round trip");
    }

    @Test
    void groupedQueryAttentionMatchesJavaForwardAndBackward() {
        int batch = 2, T = 7, nh = 6, nkv = 2, hs = 6, n = batch * T;
        LlamaConfig cfg = DeviceOpRuns.config(nh, nkv, hs, T, RopeLayout.ADJACENT_PAIRS);
        float[] q = randn(n * nh * hs, 10, 1), k = randn(n * nkv * hs, 11, 1), v = randn(n * nkv * hs, 12, 1), dout = randn(n * nh * hs, 13, 1);
        float[] att = new float[batch * nh * T * T], out = new float[n * nh * hs];
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
        Attention.forward(q, k, v, att, out, batch, T, cfg);
        Attention.backward(dout, q, k, v, att, dq, dk, dv, batch, T, cfg);
        float[][] got = DeviceOpRuns.attention(CPU, q, k, v, dout, batch, T, nh, nkv, hs, Fp32Math.FP32);
        // The saved state: lse[b,h,t] = log sum_s<=t exp(q_t · k_s / sqrt(hs)); delta[b,h,t] = dout_t · out_t.
        float[] lse = new float[batch * nh * T], delta = new float[batch * nh * T];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < nh; h++)
                for (int t = 0; t < T; t++) {
                    int qt = ((b * T + t) * nh + h) * hs, row = (b * nh + h) * T + t;
                    double sum = 0, dot = 0;
                    for (int u = 0; u <= t; u++) {
                        int ku = ((b * T + u) * nkv + h / (nh / nkv)) * hs;
                        double z = 0;
                        for (int j = 0; j < hs; j++) z += (double) q[qt + j] * k[ku + j];
                        sum += Math.exp(z / Math.sqrt(hs));
                    }
                    for (int j = 0; j < hs; j++) dot += (double) dout[qt + j] * out[qt + j];
                    lse[row] = (float) Math.log(sum);
                    delta[row] = (float) dot;
                }
        assertClose(lse, got[0], REL, "lse");
        assertClose(delta, got[5], REL, "delta");
        assertClose(out, got[1], REL, "out");
        assertClose(dq, got[2], REL, "dq");
        assertClose(dk, got[3], REL, "dk");
        assertClose(dv, got[4], REL, "dv");
    }

    @Test
    void swigluMatchesTheEngineFormula() {
        int n = 333;
        float[] h1 = randn(n, 14, 3), h3 = randn(n, 15, 1), dg = randn(n, 16, 1);
        float[] g = new float[n], dh1 = new float[n], dh3 = new float[n];
        for (int i = 0; i < n; i++) { // LlamaModel's blockForward / blockBackward
            float h = h1[i], s = 1.0f / (1.0f + (float) Math.exp(-h));
            g[i] = h * s * h3[i];
            dh3[i] = dg[i] * h * s;
            dh1[i] = dg[i] * h3[i] * s * (1f + h * (1f - s));
        }
        float[][] got = DeviceOpRuns.swiglu(CPU, h1, h3, dg);
        assertClose(g, got[0], REL, "g");
        assertClose(dh1, got[1], REL, "dh1");
        assertClose(dh3, got[2], REL, "dh3");
        float[][] inPlace = DeviceOpRuns.swigluBackwardInPlace(CPU, h1, h3, dg);
        assertArrayEquals(got[1], inPlace[0], "dh1 written over h1: the same bits");
        assertArrayEquals(got[2], inPlace[1], "dh3 written over h3: the same bits");
    }

    @Test
    void crossEntropyMatchesTheEngineLossAndGradientWithIgnoredPositionsForAnyChunking() {
        int n = 8, vocab = 37;
        float[] logits = randn(n * vocab, 17, 4);
        int[] targets = ints(n, 18, vocab);
        targets[2] = LlamaModel.IGNORE;
        targets[5] = -7;
        float dscale = 1f / 6;
        float[] nll = new float[n], dlogits = new float[n * vocab];
        for (int t = 0; t < n; t++) { // LlamaModel.loss and the start of backward
            if (targets[t] < 0) continue;
            int o = t * vocab;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) max = Math.max(max, logits[o + j]);
            double sum = 0;
            for (int j = 0; j < vocab; j++) sum += (float) Math.exp(logits[o + j] - max);
            nll[t] = (float) (max + Math.log(sum) - logits[o + targets[t]]);
            for (int j = 0; j < vocab; j++) dlogits[o + j] = (float) Math.exp(logits[o + j] - max) * (float) (1.0 / sum) * dscale;
            dlogits[o + targets[t]] -= dscale;
        }
        // One chunk (the fused op), chunks with a partial last one, single columns: the same loss and gradient up to rounding.
        for (int chunk : new int[] {vocab, 10, 1}) {
            float[][] got = DeviceOpRuns.crossEntropy(CPU, logits, targets, vocab, dscale, chunk);
            assertClose(nll, got[0], REL, "losses, chunks of " + chunk);
            assertClose(dlogits, got[1], REL, "dlogits, chunks of " + chunk);
            for (int j = 0; j < vocab; j++) assertTrue(got[1][2 * vocab + j] == 0 && got[1][5 * vocab + j] == 0, "ignored rows are zero");
        }
    }

    @Test
    void matmulFormsMatchFp32MatrixInBothAccumulateModes() {
        int n = 37, out = 70, in = 45;
        float[] x = randn(n * in, 19, 1), w = randn(out * in, 20, 1), dy = randn(n * out, 21, 1);
        float[] y0 = randn(n * out, 22, 1), dx0 = randn(n * in, 23, 1), dw0 = randn(out * in, 24, 1);
        Fp32Matrix m = new Fp32Matrix(out, in, w.clone());
        float[] y = new float[n * out], dx = new float[n * in];
        m.matmul(x, n, y);
        m.matmulBackwardInput(dy, n, dx);
        m.accumulateGradient(dy, x, n);
        float[][] fresh = DeviceOpRuns.matmul(CPU, x, w, dy, y0, dx0, dw0, n, out, in, false, Fp32Math.FP32);
        assertClose(y, fresh[0], REL, "y = x wT");
        assertClose(dx, fresh[1], REL, "dx = dy w");
        assertClose(m.gradient(), fresh[2], REL, "dw = dyT x");
        float[][] acc = DeviceOpRuns.matmul(CPU, x, w, dy, y0, dx0, dw0, n, out, in, true, Fp32Math.FP32);
        assertClose(plus(y0, y), acc[0], REL, "y += x wT");
        assertClose(plus(dx0, dx), acc[1], REL, "dx += dy w");
        assertClose(plus(dw0, m.gradient()), acc[2], REL, "dw += dyT x");
    }

    /** TF32 as PTX cvt.rna.tf32.f32 defines it (nearest, ties away from zero), written independently of the native bit trick. */
    static float tf32(float v) {
        if (!Float.isFinite(v) || v == 0) return v;
        double ulp = Math.scalb(1.0, Math.max(Math.getExponent(v), Float.MIN_EXPONENT) - 10);
        return (float) (Math.signum(v) * Math.floor(Math.abs(v) / ulp + 0.5) * ulp);
    }

    @Test
    void tf32MatmulRoundsEveryOperandAndSumsInFp32() {
        int n = 37, out = 70, in = 45;
        float[] x = randn(n * in, 25, 1), w = randn(out * in, 26, 1), dy = randn(n * out, 27, 1);
        float[] y0 = randn(n * out, 28, 1), dx0 = randn(n * in, 29, 1), dw0 = randn(out * in, 30, 1);
        for (boolean accumulate : new boolean[] {false, true}) {
            float[][] got = DeviceOpRuns.matmul(CPU, x, w, dy, y0, dx0, dw0, n, out, in, accumulate, Fp32Math.TF32);
            // y[i, j] = sum_p x[i, p] w[j, p]; dx[i, c] = sum_r dy[i, r] w[r, c]; dw[r, c] = sum_t dy[t, r] x[t, c].
            checkTf32(got[0], y0, accumulate, n, out, in, (i, j, p) -> x[i * in + p], (i, j, p) -> w[j * in + p], "y = x wT");
            checkTf32(got[1], dx0, accumulate, n, in, out, (i, c, r) -> dy[i * out + r], (i, c, r) -> w[r * in + c], "dx = dy w");
            checkTf32(got[2], dw0, accumulate, out, in, n, (r, c, t) -> dy[t * out + r], (r, c, t) -> x[t * in + c], "dw = dyT x");
        }
        // Operands that TF32 represents exactly give the FP32 result bit for bit: the modes differ only by the rounding.
        float[] xr = round(x), wr = round(w), dyr = round(dy);
        float[][] fp32 = DeviceOpRuns.matmul(CPU, xr, wr, dyr, y0, dx0, dw0, n, out, in, true, Fp32Math.FP32);
        float[][] tf = DeviceOpRuns.matmul(CPU, xr, wr, dyr, y0, dx0, dw0, n, out, in, true, Fp32Math.TF32);
        for (int f = 0; f < 3; f++) assertArrayEquals(fp32[f], tf[f], "form " + f);
    }

    private interface Operand {
        float at(int row, int col, int k);
    }

    private static float[] round(float[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = tf32(v[i]);
        return r;
    }

    /**
     * got (rows, cols) against double sums of the TF32-rounded operands: within the bound of a K-term fp32 sum,
     * K 2^-24 sum |terms|; and, for some output, farther from the unrounded operands' sum than that bound (the rounding happened).
     */
    private static void checkTf32(float[] got, float[] init, boolean accumulate, int rows, int cols, int K, Operand a, Operand b, String what) {
        double farthestFromFp32 = 0;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                double rounded = 0, exact = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    float ak = a.at(i, j, k), bk = b.at(i, j, k);
                    rounded += (double) tf32(ak) * tf32(bk);
                    exact += (double) ak * bk;
                    mag += Math.abs((double) tf32(ak) * tf32(bk));
                }
                double base = accumulate ? init[i * cols + j] : 0, bound = K * 0x1p-24 * mag + Math.ulp((float) (base + rounded));
                double v = got[i * cols + j] - base;
                assertTrue(Math.abs(v - rounded) <= bound, what + "[" + i + ", " + j + "] = " + v + ", TF32 sum " + rounded + ", bound " + bound);
                farthestFromFp32 = Math.max(farthestFromFp32, Math.abs(v - exact) / bound);
            }
        assertTrue(farthestFromFp32 > 1, what + ": every output is within fp32 rounding of the unrounded operands' sum: TF32 rounding did not happen");
    }

    @Test
    void unknownMathCodeIsRejected() {
        try (Scope s = new Scope()) {
            Tensor x = s.add(Tensor.zeros(CPU, DType.F32, 4, 8)), w = s.add(Tensor.zeros(CPU, DType.F32, 6, 8)), y = s.add(Tensor.zeros(CPU, DType.F32, 4, 6));
            Natives.load(EngineNative.class);
            int status = EngineNative.qft_matmul_f32_nt(CPU.nativeId(), x.address(), w.address(), 4, 6, 8, y.address(), 0, 2);
            assertEquals(1, status, "QFT_EINVAL");
            assertTrue(CoreNative.qft_last_error().contains("math 2"), CoreNative.qft_last_error());
        }
    }

    @Test
    void residualAddsInPlace() {
        float[] y = randn(100, 25, 1), x = randn(100, 26, 1);
        assertArrayEquals(plus(y, x), DeviceOpRuns.residual(CPU, y, x));
    }

    @Test
    void badIdsAndTargetsAreErrorsThatNameTheRange() {
        Qft4jException e = assertThrows(Qft4jException.class,
                () -> DeviceOpRuns.embedding(CPU, new float[4 * 3], 4, 3, new int[] {1, 4, -1}, new float[9], new float[12]));
        assertTrue(e.getMessage().contains("2 of 3 ids are outside [0, 4)"), e.getMessage());
        e = assertThrows(Qft4jException.class, () -> DeviceOpRuns.crossEntropy(CPU, new float[2 * 5], new int[] {0, 5}, 5, 1f, 2));
        assertTrue(e.getMessage().contains("1 of 2 targets are >= vocab 5"), e.getMessage());
    }

    @Test
    void tooSmallOrMistypedTensorsAreRejectedWithTheirShapes() {
        try (Scope s = new Scope()) {
            Tensor x = s.add(Tensor.zeros(CPU, DType.F32, 4, 8)), w = s.add(Tensor.zeros(CPU, DType.F32, 6, 8));
            Tensor small = s.add(Tensor.zeros(CPU, DType.F32, 4, 5)), ints = s.add(Tensor.zeros(CPU, DType.I32, 4, 8));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceOps.linear(x, w, 4, small, false, Fp32Math.FP32));
            assertTrue(e.getMessage().contains("linear: y must be a F32 tensor on cpu with at least 24 elements, got F32[4, 5]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> DeviceOps.rmsnormForward(ints, s.add(Tensor.zeros(CPU, DType.F32, 8)), 4, 1e-5f, x, small));
            assertTrue(e.getMessage().contains("x must be a F32 tensor") && e.getMessage().contains("I32[4, 8]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> DeviceOps.attentionForward(x, x, x, 1, 4, 3, 2, 2, x, x, Fp32Math.FP32));
            assertTrue(e.getMessage().contains("3 query heads are not a multiple of 2 kv heads"), e.getMessage());
        }
    }

    private static float[] plus(float[] a, float[] b) {
        float[] c = new float[a.length];
        for (int i = 0; i < a.length; i++) c[i] = a[i] + b[i];
        return c;
    }
}
