package org.qft4j.llama.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.assertClose;
import static org.qft4j.llama.device.Close.ints;
import static org.qft4j.llama.device.Close.randn;

import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/**
 * The chunked classifier + cross-entropy against a plain double-precision reference (logits, softmax, dx = dlogits W,
 * dW += dlogitsᵀ x), with one chunk and with several (the last one partial), ignored positions, and on CUDA against
 * the CPU.
 */
class ChunkedClassifierTest {
    private static final int N = 24, V = 300, C = 16;

    /** {losses (n), dx (n, C), dw0 + dW (V, C)} computed in double from x (n, C), w (V, C). */
    private static float[][] reference(float[] x, float[] w, int[] targets, float[] dw0) {
        int predicted = 0;
        for (int t : targets) if (t >= 0) predicted++;
        double dscale = 1.0 / predicted;
        float[] losses = new float[N], dx = new float[N * C], dw = dw0.clone();
        for (int t = 0; t < N; t++) {
            if (targets[t] < 0) continue;
            double[] z = new double[V];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < V; v++) {
                for (int c = 0; c < C; c++) z[v] += (double) x[t * C + c] * w[v * C + c];
                max = Math.max(max, z[v]);
            }
            for (int v = 0; v < V; v++) sum += Math.exp(z[v] - max);
            losses[t] = (float) (max + Math.log(sum) - z[targets[t]]);
            for (int v = 0; v < V; v++) {
                double g = dscale * (Math.exp(z[v] - max) / sum - (v == targets[t] ? 1 : 0));
                for (int c = 0; c < C; c++) {
                    dx[t * C + c] += (float) (g * w[v * C + c]);
                    dw[v * C + c] += (float) (g * x[t * C + c]);
                }
            }
        }
        return new float[][] {losses, dx, dw};
    }

    private static int[] targets() {
        int[] targets = ints(N, 3, V);
        targets[4] = -1;
        targets[17] = -100;
        targets[0] = 0;          // the first column of the first chunk
        targets[1] = V - 1;      // the last column of the partial last chunk
        return targets;
    }

    private static float[][] run(Device d, long chunkBytes, float[] x, float[] w, int[] targets, float[] dw0) {
        try (Scope s = new Scope(); ChunkedClassifier head = new ChunkedClassifier(d, N, V, C, chunkBytes)) {
            Tensor tx = s.add(Tensor.of(d, x, N, C)), tw = s.add(Tensor.of(d, w, V, C)), tt = s.add(Tensor.of(d, targets, N));
            Tensor dx = s.add(Tensor.zeros(d, DType.F32, N, C)), dw = s.add(Tensor.of(d, dw0, V, C));
            ChunkedClassifier.Weight weight = new ChunkedClassifier.Fp32(tw);
            head.lossForward(tx, weight, N, tt);
            float[] losses = head.losses().toFloats();
            head.backward(tx, weight, tt, 1f / predicted(targets), dx, new ChunkedClassifier.Accumulate(dw));
            return new float[][] {losses, dx.toFloats(), dw.toFloats()};
        }
    }

    private static int predicted(int[] targets) {
        int predicted = 0;
        for (int t : targets) if (t >= 0) predicted++;
        return predicted;
    }

    /** As {@link #run} with w as QFT's hybrid INT8 weight (1% outliers). */
    private static float[][] runHybrid(Device d, long chunkBytes, float[] x, float[] w, int[] targets, float[] dw0) {
        try (Scope s = new Scope(); ChunkedClassifier head = new ChunkedClassifier(d, N, V, C, chunkBytes)) {
            Tensor tx = s.add(Tensor.of(d, x, N, C)), tt = s.add(Tensor.of(d, targets, N));
            Tensor dx = s.add(Tensor.zeros(d, DType.F32, N, C)), dw = s.add(Tensor.of(d, dw0, V, C));
            HybridWeight h = s.add(HybridWeight.quantize(s.add(Tensor.of(d, w, V, C)), HybridConfig.DEFAULT)); // bit-identical on CUDA
            QftLinear q = s.add(new QftLinear(h, N));
            Tensor scratch = s.add(Tensor.zeros(d, DType.F32, (long) head.chunkColumns() * C));
            ChunkedClassifier.Weight weight = new ChunkedClassifier.Hybrid(q, () -> scratch);
            head.lossForward(tx, weight, N, tt);
            float[] losses = head.losses().toFloats();
            head.backward(tx, weight, tt, 1f / predicted(targets), dx, new ChunkedClassifier.Accumulate(dw));
            return new float[][] {losses, dx.toFloats(), dw.toFloats()};
        }
    }

    @Test
    void hybridInt8WeightGivesTheSameResultInAnyChunkingAndTracksItsFp32Values() {
        float[] x = randn(N * C, 11, 1), w = randn(V * C, 12, 0.5), dw0 = new float[V * C];
        int[] targets = targets();
        float[][] one = runHybrid(Device.CPU, 4L * N * V, x, w, targets, dw0);
        float[][] three = runHybrid(Device.CPU, 4L * N * 150, x, w, targets, dw0);
        // Same INT8 products per element; only the order of the chunk sums in dx differs.
        assertClose(one[0], three[0], 1e-6, "losses, 1 vs 3 chunks");
        assertClose(one[1], three[1], 1e-6, "dx, 1 vs 3 chunks");
        assertClose(one[2], three[2], 1e-6, "dW, 1 vs 3 chunks");
        try (HybridWeight h = HybridWeight.quantize(w, V, C, HybridConfig.DEFAULT)) {
            float[] deq = new float[V * C];
            h.dequantize(deq);
            float[][] fp32 = reference(x, deq, targets, dw0);
            assertClose(fp32[0], one[0], 2e-2, "losses: INT8 activations vs fp32 of the same weight");
            assertClose(fp32[1], one[1], 2e-2, "dx: the same dequantized rows");
            assertClose(fp32[2], one[2], 2e-2, "dW");
        }
    }

    @Test
    void streamedRowsAreTheAccumulatedGradientAChunkAtATime() {
        float[] x = randn(N * C, 13, 1), w = randn(V * C, 14, 0.5);
        int[] targets = targets();
        long budget = 4L * N * 150;
        float[] whole = run(Device.CPU, budget, x, w, targets, new float[V * C])[2], streamed = new float[V * C];
        java.util.List<Integer> starts = new java.util.ArrayList<>();
        try (Scope s = new Scope(); ChunkedClassifier head = new ChunkedClassifier(Device.CPU, N, V, C, budget)) {
            Tensor tx = s.add(Tensor.of(Device.CPU, x, N, C)), tt = s.add(Tensor.of(Device.CPU, targets, N));
            ChunkedClassifier.Weight weight = new ChunkedClassifier.Fp32(s.add(Tensor.of(Device.CPU, w, V, C)));
            Tensor buffer = s.add(Tensor.zeros(Device.CPU, DType.F32, (long) head.chunkColumns() * C));
            head.lossForward(tx, weight, N, tt);
            head.backward(tx, weight, tt, 1f / predicted(targets), s.add(Tensor.zeros(Device.CPU, DType.F32, N, C)),
                    new ChunkedClassifier.Stream(buffer, (row0, count, chunk) -> {
                        assertEquals(count, chunk.dim(0));
                        System.arraycopy(chunk.toFloats(), 0, streamed, row0 * C, count * C);
                        starts.add(row0);
                    }));
        }
        assertEquals(java.util.List.of(0, 128, 256), starts);
        assertArrayEquals(whole, streamed, "the same rows, bit for bit");
    }

    @Test
    void chunkCountFollowsTheBudget() {
        assertEquals(V, ChunkedClassifier.chunkColumns(N, V, 4L * N * V), "all of it fits: one chunk");
        assertEquals(128, ChunkedClassifier.chunkColumns(N, V, 4L * N * 150), "150 columns fit: 128, a multiple of 64");
        assertEquals(64, ChunkedClassifier.chunkColumns(N, V, 4), "at least 64 columns");
        assertEquals(4096, ChunkedClassifier.chunkColumns(2048, 32000, ChunkedClassifier.DEFAULT_CHUNK_BYTES), "LLaMA-7B at 2048 tokens");
    }

    @Test
    void oneChunkAndSeveralGiveTheReferenceLossAndGradients() {
        float[] x = randn(N * C, 1, 1), w = randn(V * C, 2, 0.5), dw0 = randn(V * C, 4, 0.1);
        int[] targets = targets();
        float[][] want = reference(x, w, targets, dw0);
        for (long budget : new long[] {4L * N * V, 4L * N * 150, 1}) { // chunks: 1; 128+128+44; 64 x 4 + 44
            float[][] got = run(Device.CPU, budget, x, w, targets, dw0);
            assertClose(want[0], got[0], 1e-6, "losses, budget " + budget);
            assertClose(want[1], got[1], 1e-5, "dx, budget " + budget);
            assertClose(want[2], got[2], 1e-5, "dw0 + dW, budget " + budget);
            assertEquals(0f, got[0][4]);
            assertEquals(0f, got[0][17]);
        }
    }

    @Test
    void logitsAreKeptOnlyWhenOneChunkHoldsThem() {
        float[] x = randn(N * C, 5, 1), w = randn(V * C, 6, 0.5);
        try (Scope s = new Scope()) {
            Tensor tx = s.add(Tensor.of(Device.CPU, x, N, C)), tw = s.add(Tensor.of(Device.CPU, w, V, C));
            Tensor tt = s.add(Tensor.of(Device.CPU, targets(), N));
            ChunkedClassifier.Weight weight = new ChunkedClassifier.Fp32(tw);
            ChunkedClassifier one = s.add(new ChunkedClassifier(Device.CPU, N, V, C, ChunkedClassifier.DEFAULT_CHUNK_BYTES));
            ChunkedClassifier three = s.add(new ChunkedClassifier(Device.CPU, N, V, C, 4L * N * 150));
            assertEquals(3, three.chunks());
            one.lossForward(tx, weight, N, tt);
            assertNotNull(one.heldLogits());
            float[] held = one.heldLogits().toFloats();
            three.lossForward(tx, weight, N, tt);
            assertNull(three.heldLogits(), "chunked: no (n, V) logits exist");
            float[] full = three.logitsForward(tx, weight, N).toFloats();
            for (int t = 0; t < N; t++)
                for (int v = 0; v < V; v++) {
                    double z = 0;
                    for (int c = 0; c < C; c++) z += (double) x[t * C + c] * w[v * C + c];
                    assertEquals(z, full[t * V + v], 1e-5, "logit " + t + ", " + v);
                    assertEquals(full[t * V + v], held[t * V + v], 0f, "one chunk holds the same logits");
                }
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> three.backward(tx, weight, tt, 1f, s.add(Tensor.zeros(Device.CPU, DType.F32, N, C)),
                            new ChunkedClassifier.Accumulate(s.add(Tensor.zeros(Device.CPU, DType.F32, V, C)))));
            assertTrue(e.getMessage().contains("run lossForward first"), e.getMessage());
        }
    }

    @Test
    void wrongShapesNameThem() {
        try (Scope s = new Scope(); ChunkedClassifier head = new ChunkedClassifier(Device.CPU, N, V, C, 1 << 20)) {
            Tensor x = s.add(Tensor.zeros(Device.CPU, DType.F32, N, C)), wSmall = s.add(Tensor.zeros(Device.CPU, DType.F32, V - 1, C));
            Tensor tt = s.add(Tensor.of(Device.CPU, targets(), N));
            ChunkedClassifier.Weight small = new ChunkedClassifier.Fp32(wSmall);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> head.lossForward(x, small, N, tt));
            assertTrue(e.getMessage().contains("the weight must be (vocab 300, dim 16), got (299, 16)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> head.lossForward(x, small, N + 1, tt));
            assertTrue(e.getMessage().contains("25 tokens exceed the capacity 24"), e.getMessage());
        }
    }

    @Test
    @GpuTest
    void cudaMatchesTheCpuWithSeveralChunks() {
        Device gpu = Gpus.require();
        float[] x = randn(N * C, 7, 1), w = randn(V * C, 8, 0.5), dw0 = randn(V * C, 9, 0.1);
        int[] targets = targets();
        for (long budget : new long[] {4L * N * V, 4L * N * 150}) {
            float[][] want = run(Device.CPU, budget, x, w, targets, dw0), got = run(gpu, budget, x, w, targets, dw0);
            assertClose(want[0], got[0], 1e-5, "losses, budget " + budget);
            assertClose(want[1], got[1], 1e-5, "dx, budget " + budget);
            assertClose(want[2], got[2], 1e-5, "dw0 + dW, budget " + budget);
            float[][] wantQ = runHybrid(Device.CPU, budget, x, w, targets, dw0), gotQ = runHybrid(gpu, budget, x, w, targets, dw0);
            assertClose(wantQ[0], gotQ[0], 1e-5, "hybrid losses, budget " + budget);
            assertClose(wantQ[1], gotQ[1], 1e-5, "hybrid dx, budget " + budget);
            assertClose(wantQ[2], gotQ[2], 1e-5, "hybrid dw0 + dW, budget " + budget);
        }
    }
}
