package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.assertClose;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.llama.device.Close;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.DevicePerplexity;
import org.qft4j.llama.device.Int8Backward;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.LeakCheck;
import org.qft4j.tensor.MemoryStats;
import org.qft4j.tensor.Tensor;

/** DeviceLlama on Device.CPU (the C++ reference ops) against the Java engine LlamaModel, and its resource handling. */
class DeviceLlamaTest {
    private static final double REL = 1e-5;

    static LlamaConfig tiny(RopeLayout layout, boolean shared) {
        return new LlamaConfig(32, 40, 2, 4, 2, 50, 16, 1e-5f, 10000f, layout, shared);
    }

    /** tokens then targets, (batch, T) each; a few targets ignored. */
    static int[][] batch(int batch, int T, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] tokens = new int[batch * T], targets = new int[batch * T];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(vocab);
            targets[i] = rnd.nextInt(5) == 0 ? LlamaModel.IGNORE : rnd.nextInt(vocab);
        }
        return new int[][] {tokens, targets};
    }

    /** The Java engine's gradient of every parameter, under DeviceLlama's names. */
    static Map<String, float[]> javaGradients(LlamaWeights w) {
        Map<String, float[]> g = new LinkedHashMap<>();
        g.put("token_embedding", ((Fp32Matrix) w.tokenEmbedding).gradient());
        for (int l = 0; l < w.layers.length; l++) {
            LlamaWeights.Layer y = w.layers[l];
            String p = "layers." + l + ".";
            g.put(p + "attention_norm", y.attentionNormGradient);
            g.put(p + "wq", ((Fp32Matrix) y.wq).gradient());
            g.put(p + "wk", ((Fp32Matrix) y.wk).gradient());
            g.put(p + "wv", ((Fp32Matrix) y.wv).gradient());
            g.put(p + "wo", ((Fp32Matrix) y.wo).gradient());
            g.put(p + "ffn_norm", y.ffnNormGradient);
            g.put(p + "w1", ((Fp32Matrix) y.w1).gradient());
            g.put(p + "w2", ((Fp32Matrix) y.w2).gradient());
            g.put(p + "w3", ((Fp32Matrix) y.w3).gradient());
        }
        g.put("final_norm", w.finalNormGradient);
        if (w.classifier != w.tokenEmbedding) g.put("classifier", ((Fp32Matrix) w.classifier).gradient());
        return g;
    }

    /** Runs both engines on one batch and compares loss, per-position losses, logits and every gradient. */
    static void assertMatchesJavaEngine(LlamaWeights w, Device device, int[] tokens, int[] targets, int batch, int T, double rel) {
        LlamaModel ref = new LlamaModel(w, batch, T, false);
        float expectedLoss = ref.forward(tokens, targets, batch, T);
        float[] expectedLogits = ref.logits().clone();
        ref.backward();
        Map<String, float[]> expected = javaGradients(w);
        try (DeviceLlama dev = new DeviceLlama(w, device, batch + 1, T + 3)) {
            float loss = dev.forward(tokens, targets, batch, T);
            assertEquals(expectedLoss, loss, Math.abs(expectedLoss) * rel, "loss");
            assertEquals(ref.predictedCount(), dev.predictedCount());
            assertEquals(ref.lossSum(), dev.lossSum(), Math.abs(ref.lossSum()) * rel, "loss sum");
            assertClose(Arrays.copyOf(ref.positionLosses(), batch * T), dev.positionLosses(), rel, "position losses");
            assertClose(Arrays.copyOf(expectedLogits, batch * T * w.config.vocabSize()), dev.logits(), rel, "logits");
            dev.backward();
            List<String> names = new ArrayList<>();
            dev.parameterNames().forEach(names::add);
            assertEquals(new ArrayList<>(expected.keySet()), names);
            double worst = 0;
            String worstName = "";
            for (String name : names) {
                float[] got = dev.gradient(name).toFloats();
                assertClose(expected.get(name), got, rel, "gradient of " + name + " on " + device);
                double e = Close.relativeError(expected.get(name), got);
                if (e > worst) {
                    worst = e;
                    worstName = name;
                }
            }
            System.out.printf("DeviceLlama on %s vs LlamaModel (%s, B %d, T %d): worst gradient relative error %.3g (%s)%n", device,
                    w.config, batch, T, worst, worstName);
        }
    }

    @Test
    void randomGqaModelMatchesJavaEngineWithAdjacentPairs() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ADJACENT_PAIRS, false), 1, 0.2f);
        int[][] b = batch(2, 9, 50, 2);
        assertMatchesJavaEngine(w, Device.CPU, b[0], b[1], 2, 9, REL);
    }

    @Test
    void randomGqaModelMatchesJavaEngineWithRotateHalf() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ROTATE_HALF, false), 3, 0.2f);
        int[][] b = batch(3, 11, 50, 4);
        assertMatchesJavaEngine(w, Device.CPU, b[0], b[1], 3, 11, REL);
    }

    @Test
    void tiedClassifierGetsBothGradientContributions() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ADJACENT_PAIRS, true), 5, 0.2f);
        int[][] b = batch(2, 7, 50, 6);
        assertMatchesJavaEngine(w, Device.CPU, b[0], b[1], 2, 7, REL);
    }

    @Test
    void stories260KMatchesJavaEngine() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL)).toFp32();
        int T = 20;
        int[] tokens = new int[2 * T], targets = new int[2 * T];
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < T; t++) {
                tokens[b * T + t] = Shared.FOX_IDS[b * 10 + t];
                targets[b * T + t] = b == 0 && t < 3 ? LlamaModel.IGNORE : Shared.FOX_IDS[b * 10 + t + 1];
            }
        assertMatchesJavaEngine(w, Device.CPU, tokens, targets, 2, T, REL);
    }

    @Test
    void stories260KFoxPerplexity() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL));
        try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 1, 64)) {
            Perplexity.Result r = DevicePerplexity.sequence(m, Shared.FOX_IDS);
            assertEquals(34, r.predicted());
            assertEquals(54.404121, r.nllSum(), 54.404121 * 1e-4);
            assertEquals(4.953633, r.perplexity(), 4.953633 * 1e-4);
        }
    }

    /** Every gradient of one forward + backward on a fresh model, in parameter order. */
    static float[][] gradientsOfOneStep(LlamaWeights w, Device device, int[] tokens, int[] targets, int batch, int T) {
        return gradientsOfOneStep(w, device, tokens, targets, batch, T, DeviceLlama.Recompute.NONE);
    }

    static float[][] gradientsOfOneStep(LlamaWeights w, Device device, int[] tokens, int[] targets, int batch, int T,
                                        DeviceLlama.Recompute recompute) {
        try (DeviceLlama m = new DeviceLlama(w, device, batch, T, null, recompute)) {
            m.forward(tokens, targets, batch, T);
            m.backward();
            List<float[]> out = new ArrayList<>();
            for (String name : m.parameterNames()) out.add(m.gradient(name).toFloats());
            return out.toArray(new float[0][]);
        }
    }

    @Test
    void runsAreBitwiseDeterministic() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ADJACENT_PAIRS, true), 15, 0.2f);
        int[][] b = batch(3, 12, 50, 16);
        float[][] first = gradientsOfOneStep(w, Device.CPU, b[0], b[1], 3, 12), second = gradientsOfOneStep(w, Device.CPU, b[0], b[1], 3, 12);
        for (int i = 0; i < first.length; i++) assertArrayEquals(first[i], second[i], "parameter " + i);
    }

    @Test
    void recomputingBlocksOrSegmentsGivesTheSameGradientsBitForBit() {
        // 2, 5 and 7 layers: segments of 2 (one) , 3 (a full and a short one) and 3 (two full and a short one).
        for (int layers : new int[] {2, 5, 7}) {
            LlamaConfig c = tiny(RopeLayout.ROTATE_HALF, false);
            LlamaWeights w = LlamaWeights.random(new LlamaConfig(c.dim(), c.hiddenDim(), layers, c.nHeads(), c.nKvHeads(), c.vocabSize(),
                    c.seqLen(), c.normEps(), c.ropeTheta(), c.ropeLayout(), c.sharedClassifier()), 17, 0.2f);
            int[][] b = batch(2, 10, 50, 18);
            float[][] kept = gradientsOfOneStep(w, Device.CPU, b[0], b[1], 2, 10, DeviceLlama.Recompute.NONE);
            for (DeviceLlama.Recompute mode : new DeviceLlama.Recompute[] {DeviceLlama.Recompute.BLOCKS, DeviceLlama.Recompute.SEGMENTS}) {
                float[][] recomputed = gradientsOfOneStep(w, Device.CPU, b[0], b[1], 2, 10, mode);
                for (int i = 0; i < kept.length; i++) assertArrayEquals(kept[i], recomputed[i], layers + " layers, " + mode + ": parameter " + i);
            }
            long none = modelBytes(w, DeviceLlama.Recompute.NONE), blocks = modelBytes(w, DeviceLlama.Recompute.BLOCKS);
            long segments = modelBytes(w, DeviceLlama.Recompute.SEGMENTS), residual = 4L * 2 * 10 * c.dim();
            assertTrue(blocks < none, "recomputing blocks holds " + blocks + " bytes, keeping every block's activations " + none);
            // Inputs kept: every block's (layers + 1) under BLOCKS; under SEGMENTS the segment starts, the last output
            // and one segment's slots.
            int k = (int) Math.ceil(Math.sqrt(layers)), keptInputs = (layers + k - 1) / k + 1 + (k - 1);
            assertEquals(blocks - (long) (layers + 1 - keptInputs) * residual, segments, layers + " layers: " + keptInputs + " inputs kept");
        }
    }

    /**
     * With shared gradients (QFT's trainer) every gradient reaches the hook as it completes, the untied embedding's and
     * classifier's a vocabulary chunk of rows at a time; collected, they are the model's own gradients bit for bit.
     */
    @Test
    void sharedAndStreamedGradientsReachTheHookBitForBit() {
        // 70,000 x 128 tokens of fp32 logits exceed the 32 MiB chunk: the vocabulary comes in two chunks.
        LlamaConfig c = new LlamaConfig(32, 40, 2, 4, 2, 70_000, 64, 1e-5f, 10000f, RopeLayout.ROTATE_HALF, false);
        LlamaWeights w = LlamaWeights.random(c, 21, 0.2f);
        int[][] b = batch(2, 64, 70_000, 22);
        Map<String, float[]> want = new java.util.HashMap<>(), got = new java.util.HashMap<>();
        java.util.List<String> streamedRows = new ArrayList<>();
        try (DeviceLlama own = new DeviceLlama(w, Device.CPU, 2, 64, HybridConfig.DEFAULT, DeviceLlama.Recompute.NONE, false)) {
            own.forward(b[0], b[1], 2, 64);
            own.backward();
            for (String name : own.parameterNames()) want.put(name, own.gradient(name).toFloats());
        }
        try (DeviceLlama shared = new DeviceLlama(w, Device.CPU, 2, 64, HybridConfig.DEFAULT, DeviceLlama.Recompute.SEGMENTS, true)) {
            assertTrue(shared.streamsGradient("classifier") && shared.streamsGradient("token_embedding") && !shared.streamsGradient("layers.0.w1"));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> shared.gradient("classifier"));
            assertTrue(e.getMessage().contains("streamed a row range at a time"), e.getMessage());
            shared.forward(b[0], b[1], 2, 64);
            shared.backward(new DeviceLlama.GradientsReady() {
                public void ready(List<String> names) {
                    for (String name : names) if (!shared.streamsGradient(name)) got.put(name, shared.gradient(name).toFloats());
                }

                public void rowsReady(String name, int row0, int count, Tensor chunk) {
                    float[] whole = got.computeIfAbsent(name, k -> new float[70_000 * 32]);
                    System.arraycopy(chunk.toFloats(), 0, whole, row0 * 32, count * 32);
                    streamedRows.add(name + "@" + row0);
                }
            });
        }
        assertEquals(List.of("classifier@0", "classifier@65536", "token_embedding@0", "token_embedding@65536"), streamedRows);
        assertEquals(want.keySet(), got.keySet());
        for (String name : want.keySet()) assertArrayEquals(want.get(name), got.get(name), name);
    }

    private static long modelBytes(LlamaWeights w, DeviceLlama.Recompute mode) {
        long before = MemoryStats.of(Device.CPU).liveBytes();
        try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 2, 10, null, mode)) {
            return MemoryStats.of(Device.CPU).liveBytes() - before;
        }
    }

    @Test
    void backwardAccumulatesUntilGradientsAreZeroed() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ADJACENT_PAIRS, false), 7, 0.2f);
        int[][] b = batch(1, 6, 50, 8);
        try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 1, 6)) {
            m.forward(b[0], b[1], 1, 6);
            m.backward();
            float[] once = m.gradient("layers.1.w2").toFloats();
            m.forward(b[0], b[1], 1, 6);
            m.backward();
            float[] twice = m.gradient("layers.1.w2").toFloats();
            for (int i = 0; i < once.length; i++) once[i] *= 2;
            assertClose(once, twice, 1e-6, "two backward passes");
            m.zeroGradients();
            for (float g : m.gradient("final_norm").toFloats()) assertEquals(0f, g);
        }
    }

    @Test
    void trainingStepsAndModelsLeaveNativeMemoryFlat() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ROTATE_HALF, false), 9, 0.2f);
        int[][] b = batch(2, 8, 50, 10);
        long before = MemoryStats.of(Device.CPU).liveBytes();
        try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 2, 8)) {
            LeakCheck.assertFlat(Device.CPU, 1, 5, i -> {
                m.forward(b[0], b[1], 2, 8 - i % 3);
                m.backward();
                m.zeroGradients();
            });
        }
        LeakCheck.assertFlat(Device.CPU, 0, 3, i -> {
            try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 1, 4)) {
                m.forward(b[0], b[1], 1, 4);
                m.backward();
            }
        });
        assertEquals(before, MemoryStats.of(Device.CPU).liveBytes(), "every tensor freed");
    }

    @Test
    void badInputsFailWithShapesAndLeaveTheModelUsable() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ADJACENT_PAIRS, false), 11, 0.2f);
        int[][] b = batch(1, 5, 50, 12);
        DeviceLlama closed;
        try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 1, 5)) {
            closed = m;
            assertThrows(IllegalStateException.class, m::backward);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(b[0], b[1], 2, 5));
            assertTrue(e.getMessage().contains("batch 2 x T 5 exceeds the capacity 1 x 5"), e.getMessage());
            int[] bad = b[0].clone();
            bad[3] = 50;
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(bad, b[1], 1, 5));
            assertTrue(e.getMessage().contains("token 50 at 3 of (batch 1, T 5) is outside [0, 50)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.gradient("layers.9.wq"));
            assertTrue(e.getMessage().contains("no parameter 'layers.9.wq'"), e.getMessage());
            m.forward(b[0], b[1], 1, 5);
            m.backward();
        }
        assertThrows(IllegalStateException.class, () -> closed.forward(b[0], b[1], 1, 5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DeviceLlama(w, Device.CPU, 1, 17));
        assertTrue(e.getMessage().contains("maxT <= seq_len 16"), e.getMessage());
    }

    /** A weight's hybrid INT8 image as fp32, for the Java engine. */
    static Fp32Matrix dequantized(HybridWeight h) {
        float[] w = new float[h.rows() * h.cols()];
        h.dequantize(w);
        return new Fp32Matrix(h.rows(), h.cols(), w);
    }

    static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }

    /**
     * With QFT linear layers the model differs from the fp32 model of its dequantized weights only by the per-token INT8
     * activations: loss within 1% and every gradient pointing the same way (cosine > 0.99).
     */
    static void assertQftTracksDequantizedModel(LlamaWeights w, Device device, int[] tokens, int[] targets, int batch, int T) {
        for (Int8Backward.BackwardMatmuls mode : Int8Backward.BackwardMatmuls.values())
            assertQftTracksDequantizedModel(w, device, tokens, targets, batch, T, mode);
    }

    /** With mode's INT8 backward matmuls: every gradient within cosine 0.99 of the dequantized fp32 model's. */
    static void assertQftTracksDequantizedModel(LlamaWeights w, Device device, int[] tokens, int[] targets, int batch, int T,
                                                Int8Backward.BackwardMatmuls mode) {
        try (DeviceLlama q = new DeviceLlama(w, device, batch, T, HybridConfig.DEFAULT)) {
            q.backwardMatmuls(mode);
            LlamaWeights deq = w.mapMatrices((name, m) -> q.isHybrid(name) ? dequantized(q.hybridWeight(name)) : Fp32Matrix.copyOf(m));
            LlamaModel ref = new LlamaModel(deq, batch, T, false);
            float expected = ref.forward(tokens, targets, batch, T);
            ref.backward();
            float loss = q.forward(tokens, targets, batch, T);
            assertEquals(expected, loss, Math.abs(expected) * 1e-2, "loss with INT8 activations");
            q.backward();
            Map<String, float[]> want = javaGradients(deq);
            double worst = 1;
            for (String name : q.parameterNames()) {
                double cos = cosine(want.get(name), q.gradient(name).toFloats());
                assertTrue(cos > 0.99, "gradient of " + name + ": cosine " + cos);
                worst = Math.min(worst, cos);
            }
            System.out.printf("QFT DeviceLlama on %s, %s backward matmuls: loss %.6f vs %.6f for the dequantized fp32 model; worst gradient "
                    + "cosine %.5f%n", device, mode.label(), loss, expected, worst);
        }
    }

    /** TF32 products (operands rounded to 10 mantissa bits) stay close to fp32: loss within 1e-3, gradients within cosine 0.9999. */
    @Test
    void tf32MathTracksFp32() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ROTATE_HALF, false), 17, 0.2f);
        int[][] b = batch(2, 9, 50, 18);
        try (DeviceLlama m = new DeviceLlama(w, Device.CPU, 2, 9)) {
            float fp32 = m.forward(b[0], b[1], 2, 9);
            m.backward();
            Map<String, float[]> want = new java.util.HashMap<>();
            for (String name : m.parameterNames()) want.put(name, m.gradient(name).toFloats());
            m.fp32Math(Fp32Math.TF32);
            float tf32 = m.forward(b[0], b[1], 2, 9);
            assertNotEquals(fp32, tf32, "TF32 rounding changes the loss");
            assertEquals(fp32, tf32, Math.abs(fp32) * 1e-3, "loss");
            m.backward();
            for (String name : m.parameterNames()) {
                double cos = cosine(want.get(name), m.gradient(name).toFloats());
                assertTrue(cos > 0.9999, "gradient of " + name + ": cosine " + cos);
            }
        }
    }

    @Test
    void qftLinearLayersTrackTheDequantizedModel() {
        LlamaWeights w = LlamaWeights.random(tiny(RopeLayout.ROTATE_HALF, false), 13, 0.2f);
        int[][] b = batch(2, 9, 50, 14);
        assertQftTracksDequantizedModel(w, Device.CPU, b[0], b[1], 2, 9);
    }

    @Test
    void qftStories260KFoxPerplexityStaysNearFp32() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL)).toFp32();
        int n = Shared.FOX_IDS.length - 1;
        int[] tokens = Arrays.copyOf(Shared.FOX_IDS, n), targets = Arrays.copyOfRange(Shared.FOX_IDS, 1, n + 1);
        assertQftTracksDequantizedModel(w, Device.CPU, tokens, targets, 1, n);
        try (DeviceLlama q = new DeviceLlama(w, Device.CPU, 1, n, HybridConfig.DEFAULT)) {
            double ppl = DevicePerplexity.sequence(q, Shared.FOX_IDS).perplexity();
            System.out.printf("QFT (hybrid INT8 block weights, 1%% outliers, INT8 activations) fox perplexity on cpu: %.6f (fp32 4.953633)%n", ppl);
            assertEquals(4.953633, ppl, 4.953633 * 0.03);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.parameter("layers.0.wq"));
            assertTrue(e.getMessage().contains("'layers.0.wq' is a hybrid INT8 weight"), e.getMessage());
            assertEquals(64, q.hybridWeight("layers.4.w2").rows());
        }
    }
}
