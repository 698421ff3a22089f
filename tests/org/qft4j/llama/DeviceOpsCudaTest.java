package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.assertClose;
import static org.qft4j.llama.device.Close.ints;
import static org.qft4j.llama.device.Close.randn;

import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.Qft4jException;
import org.qft4j.llama.device.Fp32Math;

/**
 * Every engine op's CUDA kernel against its C++ reference on random data, at sizes that cross the kernels' tile and
 * block boundaries. Expected agreement: 1e-5 relative to each output's largest value (the kernels use fused
 * multiply-adds and block-wide tree sums where the CPU sums sequentially); lookups and adds are bit-exact.
 */
@GpuTest
class DeviceOpsCudaTest {
    private static final double REL = 1e-5;
    // TF32: both backends multiply the same rounded operands exactly; the tensor cores add 8 products and the
    // accumulator per step with their own (truncating, not round-to-nearest) alignment, in another order than the
    // CPU's sequential sum. An indexing or fragment-layout mistake is of the order of the outputs themselves.
    private static final double TF32_REL = 3e-5;
    private static final Device CPU = Device.CPU;

    @Test
    void embedding() {
        Device gpu = Gpus.require();
        int vocab = 300, c = 520, n = 700;
        int[] ids = ints(n, 1, vocab);
        ids[5] = ids[6] = ids[600] = 17; // repeated ids sum in order on both backends
        float[] table = randn(vocab * c, 2, 1), dout = randn(n * c, 3, 1), dtable0 = randn(vocab * c, 4, 1);
        float[][] want = DeviceOpRuns.embedding(CPU, table, vocab, c, ids, dout, dtable0);
        float[][] got = DeviceOpRuns.embedding(gpu, table, vocab, c, ids, dout, dtable0);
        assertArrayEquals(want[0], got[0]);
        assertClose(want[1], got[1], REL, "dtable");
        assertArrayEquals(DeviceOpRuns.hybridEmbedding(CPU, table, vocab, c, ids), DeviceOpRuns.hybridEmbedding(gpu, table, vocab, c, ids),
                "hybrid INT8 table: the same rows bit for bit");
        assertClose(DeviceOpRuns.embeddingGradientRows(CPU, dout, ids, vocab, c, 10, 100),
                DeviceOpRuns.embeddingGradientRows(gpu, dout, ids, vocab, c, 10, 100), REL, "gradient rows [10, 110)");
    }

    @Test
    void rmsnorm() {
        Device gpu = Gpus.require();
        for (int c : new int[] {64, 300, 4096}) {
            int n = 33;
            float[] x = randn(n * c, 5, 2), w = randn(c, 6, 1), dy = randn(n * c, 7, 1), dx0 = randn(n * c, 8, 1), dw0 = randn(c, 9, 1);
            float[][] want = DeviceOpRuns.rmsnorm(CPU, x, w, dy, dx0, dw0, n, c, 1e-5f);
            float[][] got = DeviceOpRuns.rmsnorm(gpu, x, w, dy, dx0, dw0, n, c, 1e-5f);
            String[] names = {"y", "rstd", "dx", "dw"};
            for (int i = 0; i < names.length; i++) assertClose(want[i], got[i], REL, names[i] + " at C " + c);
        }
    }

    @Test
    void ropeBothLayoutsAndDirections() {
        Device gpu = Gpus.require();
        int heads = 8, hs = 64, T = 100, n = 3 * T;
        for (RopeLayout layout : RopeLayout.values())
            for (boolean inverse : new boolean[] {false, true}) {
                LlamaConfig cfg = DeviceOpRuns.config(heads, heads, hs, T, layout);
                float[] x = randn(n * heads * hs, 10, 1);
                assertClose(DeviceOpRuns.rope(CPU, x, n, T, heads, cfg, inverse), DeviceOpRuns.rope(gpu, x, n, T, heads, cfg, inverse), REL,
                        layout + (inverse ? " inverse" : " forward"));
            }
    }

    @Test
    void groupedQueryAttention() {
        Device gpu = Gpus.require();
        int[][] shapes = {{2, 7, 6, 2, 6}, {2, 200, 8, 2, 64}, {1, 130, 4, 4, 128}, {1, 65, 6, 3, 48}}; // B, T, heads, kv heads, head size
        for (int[] s : shapes) {
            int batch = s[0], T = s[1], nh = s[2], nkv = s[3], hs = s[4], n = batch * T;
            float[] q = randn(n * nh * hs, 11, 1), k = randn(n * nkv * hs, 12, 1), v = randn(n * nkv * hs, 13, 1), dout = randn(n * nh * hs, 14, 1);
            float[][] want = DeviceOpRuns.attention(CPU, q, k, v, dout, batch, T, nh, nkv, hs, Fp32Math.FP32);
            float[][] got = DeviceOpRuns.attention(gpu, q, k, v, dout, batch, T, nh, nkv, hs, Fp32Math.FP32);
            String[] names = {"lse", "out", "dq", "dk", "dv", "delta"};
            for (int i = 0; i < names.length; i++) assertClose(want[i], got[i], REL, names[i] + " at " + java.util.Arrays.toString(s));
        }
    }

    @Test
    void swiglu() {
        Device gpu = Gpus.require();
        int n = 100_003;
        float[] h1 = randn(n, 15, 3), h3 = randn(n, 16, 1), dg = randn(n, 17, 1);
        float[][] want = DeviceOpRuns.swiglu(CPU, h1, h3, dg), got = DeviceOpRuns.swiglu(gpu, h1, h3, dg);
        assertClose(want[0], got[0], REL, "g");
        assertClose(want[1], got[1], REL, "dh1");
        assertClose(want[2], got[2], REL, "dh3");
        float[][] inPlace = DeviceOpRuns.swigluBackwardInPlace(gpu, h1, h3, dg);
        assertArrayEquals(got[1], inPlace[0], "dh1 written over h1: the same bits");
        assertArrayEquals(got[2], inPlace[1], "dh3 written over h3: the same bits");
    }

    @Test
    void crossEntropyWithIgnoredRows() {
        Device gpu = Gpus.require();
        int n = 65, vocab = 32000;
        float[] logits = randn(n * vocab, 18, 4);
        int[] targets = ints(n, 19, vocab);
        targets[0] = targets[40] = LlamaModel.IGNORE;
        for (int chunk : new int[] {vocab, 4096}) { // the whole vocabulary; 7 full chunks and a partial one
            float[][] want = DeviceOpRuns.crossEntropy(CPU, logits, targets, vocab, 1f / 63, chunk);
            float[][] got = DeviceOpRuns.crossEntropy(gpu, logits, targets, vocab, 1f / 63, chunk);
            assertClose(want[0], got[0], REL, "losses, chunks of " + chunk);
            assertClose(want[1], got[1], REL, "dlogits, chunks of " + chunk);
        }
    }

    @Test
    void matmulFormsAcrossTileBoundaries() {
        Device gpu = Gpus.require();
        int[][] shapes = {{1, 7, 5}, {130, 67, 129}, {257, 300, 190}, {64, 64, 64}}; // n, out, in
        for (int[] s : shapes)
            for (boolean accumulate : new boolean[] {false, true}) {
                int n = s[0], out = s[1], in = s[2];
                float[] x = randn(n * in, 20, 1), w = randn(out * in, 21, 1), dy = randn(n * out, 22, 1);
                float[] y0 = randn(n * out, 23, 1), dx0 = randn(n * in, 24, 1), dw0 = randn(out * in, 25, 1);
                for (Fp32Math math : Fp32Math.values()) {
                    float[][] want = DeviceOpRuns.matmul(CPU, x, w, dy, y0, dx0, dw0, n, out, in, accumulate, math);
                    float[][] got = DeviceOpRuns.matmul(gpu, x, w, dy, y0, dx0, dw0, n, out, in, accumulate, math);
                    String at = " (" + math + ") at n " + n + ", out " + out + ", in " + in + (accumulate ? ", accumulating" : "");
                    double rel = math == Fp32Math.FP32 ? REL : TF32_REL;
                    assertClose(want[0], got[0], rel, "y" + at);
                    assertClose(want[1], got[1], rel, "dx" + at);
                    assertClose(want[2], got[2], rel, "dw" + at);
                }
            }
    }

    @Test
    void tf32MatmulAtLlamaShapes() {  // whole 128 x 128 tiles, 16-float slices, and the aligned cp.async path at K = 4096
        Device gpu = Gpus.require();
        int[][] shapes = {{256, 512, 4096}, {128, 4096, 1024}, {300, 1000, 2048}}; // n, out, in
        for (int[] s : shapes) {
            int n = s[0], out = s[1], in = s[2];
            float[] x = randn(n * in, 30, 1), w = randn(out * in, 31, 1), dy = randn(n * out, 32, 1);
            float[] y0 = new float[n * out], dx0 = new float[n * in], dw0 = new float[out * in];
            float[][] want = DeviceOpRuns.matmul(CPU, x, w, dy, y0, dx0, dw0, n, out, in, false, Fp32Math.TF32);
            float[][] got = DeviceOpRuns.matmul(gpu, x, w, dy, y0, dx0, dw0, n, out, in, false, Fp32Math.TF32);
            String at = " at n " + n + ", out " + out + ", in " + in;
            assertClose(want[0], got[0], TF32_REL, "y" + at);
            assertClose(want[1], got[1], TF32_REL, "dx" + at);
            assertClose(want[2], got[2], TF32_REL, "dw" + at);
        }
    }

    @Test
    void residual() {
        Device gpu = Gpus.require();
        float[] y = randn(70_001, 26, 1), x = randn(70_001, 27, 1);
        assertArrayEquals(DeviceOpRuns.residual(CPU, y, x), DeviceOpRuns.residual(gpu, y, x));
    }

    @Test
    void badIdsAndTargetsAreErrorsOnTheGpuToo() {
        Device gpu = Gpus.require();
        Qft4jException e = assertThrows(Qft4jException.class,
                () -> DeviceOpRuns.embedding(gpu, new float[4 * 3], 4, 3, new int[] {1, 4, -1}, new float[9], new float[12]));
        assertTrue(e.getMessage().contains("2 of 3 ids are outside [0, 4)"), e.getMessage());
        e = assertThrows(Qft4jException.class, () -> DeviceOpRuns.crossEntropy(gpu, new float[2 * 5], new int[] {0, 5}, 5, 1f, 2));
        assertTrue(e.getMessage().contains("1 of 2 targets are >= vocab 5"), e.getMessage());
    }
}
