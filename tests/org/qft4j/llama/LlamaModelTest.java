package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LlamaModelTest {
    private static final LlamaConfig TINY = new LlamaConfig(16, 24, 2, 4, 2, 20, 16, 1e-5f, 10000f, RopeLayout.ADJACENT_PAIRS, true);

    /** Records the order of gradientComplete() calls on top of an fp32 matrix. */
    private static final class Recording implements WeightMatrix {
        final String name;
        final Fp32Matrix inner;
        final List<String> log;

        Recording(String name, WeightMatrix m, List<String> log) {
            this.name = name;
            this.inner = (Fp32Matrix) m;
            this.log = log;
        }

        public int rows() { return inner.rows(); }
        public int cols() { return inner.cols(); }
        public void matmul(float[] x, int tokens, float[] y) { inner.matmul(x, tokens, y); }
        public void matmulBackwardInput(float[] dy, int tokens, float[] dx) { inner.matmulBackwardInput(dy, tokens, dx); }
        public void accumulateGradient(float[] dy, float[] x, int tokens) { inner.accumulateGradient(dy, x, tokens); }
        public void row(int r, float[] out, int off) { inner.row(r, out, off); }
        public void accumulateRowGradient(int r, float[] g, int off) { inner.accumulateRowGradient(r, g, off); }
        public void gradientComplete() { log.add(name); }
    }

    private static int[] randomIds(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = r.nextInt(vocab);
        return out;
    }

    @Test
    void gradientCompleteOnceEachInReverseForwardOrder() {
        for (boolean shared : new boolean[] {true, false}) {
            LlamaConfig cfg = new LlamaConfig(16, 24, 2, 4, 2, 20, 16, 1e-5f, 10000f, RopeLayout.ADJACENT_PAIRS, shared);
            List<String> log = new ArrayList<>();
            LlamaWeights w = LlamaWeights.random(cfg, 1, 0.2f).mapMatrices((n, m) -> new Recording(n, m, log));
            LlamaModel model = new LlamaModel(w, 2, 8, false);
            model.forward(randomIds(16, 20, 2), randomIds(16, 20, 3), 2, 8);
            model.backward();
            List<String> expected = new ArrayList<>();
            if (!shared) expected.add("classifier");
            for (int l = 1; l >= 0; l--)
                for (String m : List.of("w2", "w3", "w1", "wo", "wv", "wk", "wq")) expected.add("layers." + l + "." + m);
            expected.add("token_embedding");
            assertEquals(expected, log);
            List<String> forwardNames = new ArrayList<>();
            for (WeightMatrix m : w.matricesInForwardOrder()) forwardNames.add(((Recording) m).name);
            java.util.Collections.reverse(forwardNames);
            assertEquals(forwardNames, log, "matricesInForwardOrder reversed is the completion order");
        }
    }

    @Test
    void recomputationGivesIdenticalGradientsWithLessMemory() {
        LlamaWeights a = LlamaWeights.random(TINY, 5, 0.2f), b = a.toFp32();
        int[] tokens = randomIds(32, 20, 6), targets = randomIds(32, 20, 7);
        targets[0] = LlamaModel.IGNORE;
        LlamaModel plain = new LlamaModel(a, 2, 16, false), ckpt = new LlamaModel(b, 2, 16, true);
        assertEquals(plain.forward(tokens, targets, 2, 16), ckpt.forward(tokens, targets, 2, 16));
        plain.backward();
        ckpt.backward();
        List<WeightMatrix> ma = a.matricesInForwardOrder(), mb = b.matricesInForwardOrder();
        for (int i = 0; i < ma.size(); i++) assertArrayEquals(((Fp32Matrix) ma.get(i)).gradient(), ((Fp32Matrix) mb.get(i)).gradient());
        assertArrayEquals(a.layers[0].attentionNormGradient, b.layers[0].attentionNormGradient);
        assertArrayEquals(plain.inputEmbeddingGradient(), ckpt.inputEmbeddingGradient());
        assertTrue(ckpt.activationBytes() < plain.activationBytes());
    }

    @Test
    void ignoredTargetsDoNotContribute() {
        LlamaWeights w = LlamaWeights.random(TINY, 8, 0.2f);
        LlamaModel model = new LlamaModel(w, 1, 8, false);
        int[] tokens = randomIds(8, 20, 9), targets = randomIds(8, 20, 10);
        float all = model.forward(tokens, targets, 1, 8);
        float[] nll = model.positionLosses().clone();
        targets[3] = LlamaModel.IGNORE;
        targets[5] = LlamaModel.IGNORE;
        float masked = model.forward(tokens, targets, 1, 8);
        double expected = 0;
        for (int i = 0; i < 8; i++) if (i != 3 && i != 5) expected += nll[i];
        assertEquals(6, model.predictedCount());
        assertEquals(expected / 6, masked, 1e-6);
        assertTrue(Math.abs(all - masked) > 1e-6);
    }

    @Test
    void rejectsBadInput() {
        LlamaModel model = new LlamaModel(LlamaWeights.random(TINY, 1, 0.2f), 1, 8, false);
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[8], null, 1, 9));
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[] {0, 1, 20, 0}, null, 1, 4));
        assertThrows(IllegalStateException.class, model::backward);
        assertThrows(IllegalArgumentException.class, () -> new LlamaConfig(10, 8, 1, 3, 1, 5, 4, 1e-5f, 1e4f, RopeLayout.ADJACENT_PAIRS, true));
    }

    @Test
    void seededTopPSamplingIsReproducibleAndStaysInNucleus() {
        float[] logits = {5f, 4.5f, 0f, -3f, -10f};
        Sampler a = new Sampler(5, 1f, 0.6f, 42), b = new Sampler(5, 1f, 0.6f, 42);
        for (int i = 0; i < 50; i++) {
            int x = a.sample(logits);
            assertEquals(x, b.sample(logits));
            assertTrue(x == 0 || x == 1, "token " + x + " is outside the top-p 0.6 nucleus {0, 1}");
        }
        assertEquals(0, new Sampler(5, 0f, 0.9f, 1).sample(logits));
    }
}
