package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.WeightMatrix;
import org.qft4j.peqa.PackedWeight;
import org.qft4j.peqa.PeqaMatrix;
import org.qft4j.peqa.PeqaModel;

/**
 * {@link TrainConfig#trainedParts}: what a run leaves out stays exactly as it started (fp32 baselines and PEQA), PEQA
 * with the embedding quantizes the tied embedding / classifier and delivers d loss / d its scales (checked against
 * central finite differences of the loss), trains norms in fp32 when asked, and exports a model that reloads b-bit
 * and evaluates as the trainer's.
 */
class TrainedPartsTest {

    @Test
    void theConfigNamesBadPartsAndPrintsOnlyNonDefaultOnes() {
        TrainConfig.Builder peqa = PeqaTrainerTest.peqa(4, 32);
        String m = assertThrows(IllegalArgumentException.class, () -> peqa.trainedParts(ModelPart.EMBEDDING, ModelPart.NORMS).build()).getMessage();
        assertTrue(m.contains("PEQA trains the block matrices' scales, so its trained parts must include blocks"), m);
        m = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().trainedParts(Set.of()).build()).getMessage();
        assertTrue(m.contains("trained parts must name at least one of embedding, blocks, norms"), m);
        m = assertThrows(IllegalArgumentException.class, () -> ModelPart.parse("blocks,classifier")).getMessage();
        assertTrue(m.contains("got 'classifier' in 'blocks,classifier'"), m);
        assertEquals(EnumSet.of(ModelPart.BLOCKS, ModelPart.NORMS), ModelPart.parse(" norms, blocks"));

        TrainConfig plain = PeqaTrainerTest.peqa(4, 32).build();
        assertEquals(Set.of(ModelPart.BLOCKS), plain.trainedParts, "PEQA's default: the block matrices' scales");
        assertFalse(plain.toString().contains("train="), "a default run's config string is as before: " + plain);
        assertEquals(EnumSet.allOf(ModelPart.class), TrainConfig.builder().optimizer(OptimizerKind.FP32_ADAMW).build().trainedParts);
        TrainConfig withEmbedding = PeqaTrainerTest.peqa(4, 32).trainedParts(ModelPart.NORMS, ModelPart.BLOCKS, ModelPart.EMBEDDING).build();
        assertTrue(withEmbedding.toString().endsWith(" train=embedding+blocks+norms"), withEmbedding.toString());
        assertEquals(withEmbedding.toString(), withEmbedding.toBuilder().build().toString());
        assertEquals(EnumSet.allOf(ModelPart.class), plain.toBuilder().optimizer(OptimizerKind.FP32_ADAMW).build().trainedParts,
                "a default carried by toBuilder follows the new optimizer");
    }

    /** fp32 AdamW trains exactly the parts it is given; the others keep their starting values bit for bit. */
    @Test
    void fp32TrainingFreezesThePartsItLeavesOut() {
        LlamaWeights init = PeqaTrainerTest.initial();
        var y = TrainerTest.TINY;
        long norms = 2L * y.nLayers() * y.dim() + y.dim(), embedding = (long) y.vocabSize() * y.dim();
        try (Trainer t = new Trainer(TrainerTest.base(OptimizerKind.FP32_ADAMW, 3e-3).steps(8)
                .trainedParts(ModelPart.EMBEDDING, ModelPart.NORMS).build(), init, TrainerTest.DATA)) {
            assertEquals(embedding + norms, t.memory().parameters());
            Trainer.Result r = t.run();
            assertTrue(r.after().loss() < r.before().loss(), r.before() + " -> " + r.after());
            LlamaWeights now = t.weights();
            for (String b : PeqaTrainerTest.BLOCK)
                assertArrayEquals(values(block(init.layers[0], b)), values(block(now.layers[0], b)), b + " is frozen");
            assertNotEquals(Arrays.toString(values(init.tokenEmbedding)), Arrays.toString(values(now.tokenEmbedding)), "the embedding trained");
            assertNotEquals(Arrays.toString(init.finalNorm), Arrays.toString(now.finalNorm), "the norms trained");
        }
        try (Trainer t = new Trainer(TrainerTest.base(OptimizerKind.FP32_ADAMW, 3e-3).steps(8)
                .trainedParts(ModelPart.BLOCKS).build(), init, TrainerTest.DATA)) {
            Trainer.Result r = t.run();
            assertTrue(r.after().loss() < r.before().loss(), r.before() + " -> " + r.after());
            LlamaWeights now = t.weights();
            assertArrayEquals(values(init.tokenEmbedding), values(now.tokenEmbedding), "the embedding is frozen");
            assertArrayEquals(init.layers[0].attentionNorm, now.layers[0].attentionNorm, "norms are frozen");
            assertArrayEquals(init.finalNorm, now.finalNorm);
            assertNotEquals(Arrays.toString(values(init.layers[0].w2)), Arrays.toString(values(now.layers[0].w2)), "the blocks trained");
        }
    }

    /**
     * The tied embedding / classifier as a PEQA matrix: the scale gradient the optimizer receives (classifier and lookup
     * contributions together) is the derivative of the mean loss, checked by central differences on the same batch.
     */
    @Test
    void theEmbeddingScaleGradientIsTheDerivativeOfTheLoss() {
        LlamaWeights init = PeqaTrainerTest.initial();
        List<Sequence> batch = TrainerTest.DATA.train().subList(0, 4);
        TrainConfig c = PeqaTrainerTest.peqa(4, 16).trainedParts(ModelPart.BLOCKS, ModelPart.EMBEDDING).build();
        Map<String, float[]> delivered = new LinkedHashMap<>();
        try (ParameterSet params = ParameterSet.of(c)) {
            TrainableLlama model = new TrainableLlama(init, params, 4, 32);
            assertSame(model.weights.tokenEmbedding, model.weights.classifier, "still tied");
            PeqaTensor emb = (PeqaTensor) params.tensors().get(0);
            assertEquals("token_embedding", emb.name);
            params.route(new GradientPolicy() {
                @Override public void begin(double lr) {}
                @Override public void gradient(int param, float[] dW, int rows, int cols) {
                    delivered.put(params.tensors().get(param).name, dW.clone());
                }
                @Override public StepResult finish() { return null; }
            });
            model.run(batch, true);
            params.route(null);
            assertEquals(1 + PeqaTrainerTest.BLOCK.length, delivered.size(), "the embedding's and the block matrices' scales: " + delivered.keySet());
            float[] g = delivered.get("token_embedding"), s = emb.weights();
            assertEquals((long) TrainerTest.TINY.vocabSize() * 2, g.length, "(vocab, dim / 16) scales");

            // The largest gradients (rows of tokens in the batch and of likely targets) and a spread of the others.
            Integer[] order = new Integer[g.length];
            for (int i = 0; i < g.length; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Float.compare(Math.abs(g[b]), Math.abs(g[a])));
            List<Integer> checked = new ArrayList<>(List.of(order).subList(0, 6));
            for (int i = 6; i < g.length; i += g.length / 6) checked.add(order[i]);
            double max = Math.abs(g[order[0]]);
            assertTrue(max > 1e-3, "the embedding scales have a gradient: " + max);
            for (int k : checked) {
                float s0 = s[k];
                float h = 0.05f * Math.abs(s0);
                s[k] = s0 + h;
                double up = model.run(batch, false).mean();
                s[k] = s0 - h;
                double down = model.run(batch, false).mean();
                s[k] = s0;
                double fd = (up - down) / (2.0 * h);
                assertEquals(fd, g[k], 0.005 * Math.abs(fd) + 1e-4 * max, "scale " + k + " (row " + k / 2 + ", group " + k % 2 + ")");
            }
        }
    }

    /** PEQA with the embedding and the norms: codes and zero-points stay frozen, the export reloads b-bit and evaluates the same. */
    @Test
    void peqaWithEmbeddingAndNormsTrainsThemAndExportsTheBBitModel(@TempDir Path dir) throws Exception {
        LlamaWeights init = PeqaTrainerTest.initial();
        var y = TrainerTest.TINY;
        Path file = dir.resolve("model-peqa.bin");
        TrainConfig c = PeqaTrainerTest.peqa(4, 16).steps(15).trainedParts(EnumSet.allOf(ModelPart.class)).build();
        try (Trainer t = new Trainer(c, init, TrainerTest.DATA)) {
            long blockScales;
            try (Trainer plain = new Trainer(PeqaTrainerTest.peqa(4, 16).build(), init, TrainerTest.DATA)) {
                blockScales = plain.memory().parameters();
            }
            long norms = 2L * y.nLayers() * y.dim() + y.dim();
            assertEquals(blockScales + (long) y.vocabSize() * 2 + norms, t.memory().parameters(), "block scales, embedding scales, norms");
            PeqaTensor emb = (PeqaTensor) t.parameters().tensors().get(0);
            int[] codes = emb.matrix().weight().codes();
            byte[] zeros = emb.matrix().weight().zeros();
            float[] scales0 = emb.weights().clone();
            Trainer.Result r = t.run();
            assertTrue(r.after().loss() < r.before().loss() - 0.05, r.before() + " -> " + r.after());
            assertArrayEquals(codes, emb.matrix().weight().codes(), "embedding codes are frozen");
            assertArrayEquals(zeros, emb.matrix().weight().zeros(), "embedding zero-points are frozen");
            assertNotEquals(Arrays.toString(scales0), Arrays.toString(emb.weights()), "embedding scales trained");
            LlamaWeights now = t.weights();
            assertNotEquals(Arrays.toString(init.finalNorm), Arrays.toString(now.finalNorm), "the norms trained");

            t.exportPeqa(file);
            double trainer = t.evaluate().loss();
            LlamaWeights loaded = ModelLoader.load(file);
            try {
                assertTrue(loaded.tokenEmbedding instanceof PeqaMatrix, "the embedding reloads b-bit: " + loaded.tokenEmbedding);
                assertSame(loaded.tokenEmbedding, loaded.classifier, "and tied");
                PackedWeight w = ((PeqaMatrix) loaded.tokenEmbedding).weight();
                assertEquals(4, w.bits());
                assertEquals(16, w.groupSize());
                assertArrayEquals(codes, w.codes());
                assertArrayEquals(emb.weights(), ((PeqaMatrix) loaded.tokenEmbedding).scales(), "the tuned embedding scales");
                assertArrayEquals(now.finalNorm, loaded.finalNorm, "the tuned norms");
                assertEquals(1 + PeqaTrainerTest.BLOCK.length, PeqaModel.matrices(loaded).size());
                assertEquals(trainer, loss(loaded), 1e-5, "the export evaluates as the trainer's model");
            } finally {
                PeqaModel.close(loaded);
            }
        }
    }

    private static double loss(LlamaWeights model) {
        LlamaModel lm = new LlamaModel(model, 4, 32, false);
        double sum = 0;
        long n = 0;
        for (Sequence s : TrainerTest.DATA.validation()) {
            lm.forward(s.inputs(), s.targets(), 1, s.length());
            sum += lm.lossSum();
            n += lm.predictedCount();
        }
        return sum / n;
    }

    private static WeightMatrix block(LlamaWeights.Layer y, String name) {
        return switch (name) {
            case "wq" -> y.wq;
            case "wk" -> y.wk;
            case "wv" -> y.wv;
            case "wo" -> y.wo;
            case "w1" -> y.w1;
            case "w2" -> y.w2;
            case "w3" -> y.w3;
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static float[] values(WeightMatrix w) {
        return Fp32Matrix.copyOf(w).weights();
    }
}
