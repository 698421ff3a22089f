package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.Device;
import org.qft4j.checkpoint.Checkpoint;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.CheckpointSchema;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.WeightMatrix;
import org.qft4j.peqa.PackedWeight;
import org.qft4j.peqa.PeqaMatrix;
import org.qft4j.peqa.PeqaModel;

/**
 * PEQA in the trainer: config validation, scale-only training (codes, zero-points, embedding and norms never move),
 * the scale gradients the optimizer receives equal those of the PEQA model run directly, bit-exact resume, a
 * checkpoint of another base model is refused, and the exported b-bit model evaluates as the trainer's.
 */
class PeqaTrainerTest {
    static final String[] BLOCK = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

    static TrainConfig.Builder peqa(int bits, int groupSize) {
        return TrainerTest.base(OptimizerKind.PEQA_ADAMW, 1e-2).bits(bits).groupSize(groupSize);
    }

    static LlamaWeights initial() {
        return LlamaWeights.random(TrainerTest.TINY, 9, 0.05f);
    }

    @Test
    void theConfigNamesBadPeqaSettings() {
        String m = assertThrows(IllegalArgumentException.class, () -> peqa(5, -1).weightDecay(0.1).build()).getMessage();
        for (String s : new String[] {"PEQA bits must be 3 or 4, got 5", "PEQA group size must be >= 1, or 0 for per-channel scales, got -1",
                "PEQA trains the scales with weight decay 0"})
            assertTrue(m.contains(s), m);
        TrainConfig c = peqa(3, TrainConfig.PER_CHANNEL).build();
        assertEquals(0.999, c.beta2, "AdamW's usual beta2");
        assertTrue(c.toString().startsWith("PEQA 3-bit per-channel PEQA_ADAMW"), c.toString());
        assertEquals(c.toString(), c.toBuilder().build().toString());
        assertEquals("4-bit group 128", TrainConfig.builder().optimizer(OptimizerKind.PEQA_ADAMW).build().peqaLayout(), "the defaults");
        // Weight decay stays legal for the other optimizers.
        TrainConfig.builder().optimizer(OptimizerKind.FP32_ADAMW).weightDecay(0.1).build();
    }

    @Test
    void onlyTheScalesTrain() {
        LlamaWeights init = initial();
        TrainConfig c = peqa(4, 16).steps(15).build();
        try (Trainer t = new Trainer(c, init, TrainerTest.DATA)) {
            var y = TrainerTest.TINY;
            long scales = 0;
            for (int[] rc : new int[][] {{y.dim(), y.dim()}, {y.kvDim(), y.dim()}, {y.kvDim(), y.dim()}, {y.dim(), y.dim()},
                    {y.hiddenDim(), y.dim()}, {y.dim(), y.hiddenDim()}, {y.hiddenDim(), y.dim()}})
                scales += (long) rc[0] * ((rc[1] + 15) / 16);
            assertEquals(scales, t.memory().parameters(), "trainable parameters are the scales of the block matrices");
            Map<String, PackedWeight> before = packed(t);
            Map<String, int[]> codes = new LinkedHashMap<>();
            Map<String, byte[]> zeros = new LinkedHashMap<>();
            Map<String, float[]> scales0 = new LinkedHashMap<>();
            for (var e : before.entrySet()) {
                codes.put(e.getKey(), e.getValue().codes());
                zeros.put(e.getKey(), e.getValue().zeros());
                scales0.put(e.getKey(), e.getValue().scales());
            }
            Trainer.Result r = t.run();
            assertTrue(r.after().loss() < r.before().loss() - 0.05, "scale tuning lowers the loss: " + r.before() + " -> " + r.after());
            LlamaWeights now = t.weights();
            assertArrayEquals(values(init.tokenEmbedding), values(now.tokenEmbedding), "the embedding is frozen");
            assertArrayEquals(init.layers[0].attentionNorm, now.layers[0].attentionNorm, "norms are frozen");
            assertArrayEquals(init.layers[0].ffnNorm, now.layers[0].ffnNorm);
            assertArrayEquals(init.finalNorm, now.finalNorm);
            for (TrainableTensor x : t.parameters().tensors()) {
                PackedWeight w = ((PeqaTensor) x).matrix().weight();
                assertArrayEquals(codes.get(x.name), w.codes(), x.name + " codes are frozen");
                assertArrayEquals(zeros.get(x.name), w.zeros(), x.name + " zero-points are frozen");
                assertNotEquals(Arrays.toString(scales0.get(x.name)), Arrays.toString(x.weights()), x.name + " scales trained");
            }
        }
    }

    /** The packed weight of each block matrix, by name. */
    private static Map<String, PackedWeight> packed(Trainer t) {
        Map<String, PackedWeight> out = new LinkedHashMap<>();
        for (TrainableTensor x : t.parameters().tensors())
            out.put(x.name, ((PeqaTensor) x).matrix().weight());
        return out;
    }

    private static float[] values(WeightMatrix w) {
        return org.qft4j.llama.Fp32Matrix.copyOf(w).weights();
    }

    /** What the optimizer receives is d loss / d scales of the PEQA model run directly on the same batch. */
    @Test
    void theDeliveredGradientIsTheScaleGradientOfThePeqaModel() {
        LlamaWeights init = initial();
        List<Sequence> batch = TrainerTest.DATA.train().subList(0, 4);
        TrainConfig c = peqa(3, 16).build();
        Map<String, float[]> delivered = new LinkedHashMap<>();
        try (ParameterSet params = ParameterSet.of(c)) {
            TrainableLlama model = new TrainableLlama(init, params, 4, 32);
            params.route(new GradientPolicy() {
                @Override public void begin(double lr) {}
                @Override public void gradient(int param, float[] dW, int rows, int cols) {
                    TrainableTensor t = params.tensors().get(param);
                    assertEquals(t.rows, rows);
                    assertEquals(((PeqaTensor) t).matrix().groups(), cols, t.name + ": the gradient is (rows, groups)");
                    delivered.put(t.name, dW.clone());
                }
                @Override public StepResult finish() { return null; }
            });
            model.run(batch, true);
        }
        assertEquals(BLOCK.length, delivered.size(), "only the block matrices' scales get gradients: " + delivered.keySet());

        LlamaWeights q = PeqaModel.quantize(init, Device.CPU, 3, 16);
        try {
            int T = 0;
            for (Sequence s : batch) T = Math.max(T, s.length());
            int[] tokens = new int[batch.size() * T], targets = new int[batch.size() * T];
            Arrays.fill(targets, LlamaModel.IGNORE);
            for (int b = 0; b < batch.size(); b++) {
                System.arraycopy(batch.get(b).inputs(), 0, tokens, b * T, batch.get(b).length());
                System.arraycopy(batch.get(b).targets(), 0, targets, b * T, batch.get(b).length());
            }
            LlamaModel direct = new LlamaModel(q, 4, 32, false);
            direct.forward(tokens, targets, batch.size(), T);
            direct.backward();
            LlamaWeights.Layer y = q.layers[0];
            WeightMatrix[] ms = {y.wq, y.wk, y.wv, y.wo, y.w1, y.w2, y.w3};
            for (int i = 0; i < BLOCK.length; i++) {
                float[] want = ((PeqaMatrix) ms[i]).scaleGrad(), got = delivered.get("layers.0." + BLOCK[i]);
                double norm = 0;
                for (float v : want) norm = Math.max(norm, Math.abs(v));
                assertTrue(norm > 0, BLOCK[i] + " has a gradient");
                for (int k = 0; k < want.length; k++)
                    assertEquals(want[k], got[k], 1e-5 * norm, BLOCK[i] + " scale " + k);
            }
        } finally {
            PeqaModel.close(q);
        }
    }

    private static TrainConfig resumable(Path out) {
        return peqa(4, TrainConfig.PER_CHANNEL).steps(20).evalSequences(4).checkpointInterval(10).keepLast(5).outputDir(out).build();
    }

    private static List<Long> losses(Trainer t) {
        List<Long> out = new ArrayList<>();
        t.addListener(new TrainListener() {
            @Override
            public void step(StepMetrics m) {
                out.add(Double.doubleToRawLongBits(m.loss()));
            }
        });
        t.run();
        return out;
    }

    private static Checkpoint checkpoint(Path out, long step) throws CheckpointException {
        return Checkpoint.load(CheckpointStore.open(Trainer.checkpointDirectory(out)).fileFor(step), CheckpointSchema.ANY);
    }

    @Test
    void aResumedRunContinuesBitExactly(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("first"), second = dir.resolve("second");
        List<Long> all, resumed;
        try (Trainer t = new Trainer(resumable(first), initial(), TrainerTest.DATA)) {
            all = losses(t);
        }
        Checkpoint at10 = checkpoint(first, 10);
        assertEquals(java.util.Set.of("w.layers.0.wq", "w.layers.0.wq.codes", "w.layers.0.wq.zeros", "opt.layers.0.wq.m", "opt.layers.0.wq.v"),
                keysOf(at10, "layers.0.wq"), "scales, frozen codes and zero-points, AdamW moments");
        try (Trainer t = new Trainer(resumable(second), initial(), TrainerTest.DATA)) {
            t.resume(Checkpoint.load(CheckpointStore.open(Trainer.checkpointDirectory(first)).fileFor(10), t.schema()));
            resumed = losses(t);
        }
        assertEquals(all.subList(10, 20), resumed, "losses of steps 11..20 after resuming");
        assertNotEquals(all.get(10), all.get(19), "the losses must change, or the comparison proves nothing");
        Checkpoint a = checkpoint(first, 20), b = checkpoint(second, 20);
        assertEquals(a.tensors().keySet(), b.tensors().keySet());
        for (Map.Entry<String, TensorBuffer> e : a.tensors().entrySet())
            assertArrayEquals(e.getValue().toBytes(), b.tensor(e.getKey()).toBytes(), "tensor " + e.getKey() + " differs");
    }

    private static java.util.Set<String> keysOf(Checkpoint c, String name) {
        java.util.Set<String> out = new java.util.TreeSet<>();
        for (String k : c.tensors().keySet()) if (k.contains(name + ".") || k.endsWith(name)) out.add(k);
        return out;
    }

    @Test
    void aCheckpointTunedFromAnotherBaseModelIsRefusedBeforeAnythingChanges(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("first");
        try (Trainer t = new Trainer(resumable(first), initial(), TrainerTest.DATA)) {
            t.run();
        }
        LlamaWeights other = LlamaWeights.random(TrainerTest.TINY, 10, 0.05f);
        try (Trainer t = new Trainer(resumable(dir.resolve("other")), other, TrainerTest.DATA)) {
            float[] scales = t.parameters().tensors().get(0).weights().clone();
            Checkpoint c = Checkpoint.load(CheckpointStore.open(Trainer.checkpointDirectory(first)).fileFor(10), t.schema());
            CheckpointException e = assertThrows(CheckpointException.class, () -> t.resume(c));
            assertTrue(e.getMessage().contains("frozen PEQA codes or zero-points of layers.0.wq differ"), e.getMessage());
            assertTrue(e.getMessage().contains("another base model"), e.getMessage());
            assertArrayEquals(scales, t.parameters().tensors().get(0).weights(), "the scales were not touched");
        }
    }

    @Test
    void theExportedModelIsStillBBitAndEvaluatesAsTheTrainer(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model-peqa.bin");
        try (Trainer t = new Trainer(peqa(3, 16).steps(5).build(), initial(), TrainerTest.DATA)) {
            t.run();
            t.exportPeqa(file);
            double trainer = t.evaluate().loss();
            LlamaWeights loaded = ModelLoader.load(file);
            try {
                for (PeqaMatrix m : PeqaModel.matrices(loaded)) {
                    assertEquals(3, m.weight().bits());
                    assertEquals(16, m.weight().groupSize());
                }
                assertEquals(BLOCK.length, PeqaModel.matrices(loaded).size());
                assertArrayEquals(t.parameters().tensors().get(0).weights(), PeqaModel.matrices(loaded).get(0).scales(), "the tuned scales");
                LlamaModel lm = new LlamaModel(loaded, 4, 32, false);
                double sum = 0;
                long n = 0;
                for (Sequence s : TrainerTest.DATA.validation()) {
                    lm.forward(s.inputs(), s.targets(), 1, s.length());
                    sum += lm.lossSum();
                    n += lm.predictedCount();
                }
                assertEquals(trainer, sum / n, 1e-5, "the export evaluates as the trainer's model");
            } finally {
                PeqaModel.close(loaded);
            }
        }
        try (Trainer t = new Trainer(TrainerTest.base(OptimizerKind.FP32_ADAMW, 1e-3).build(), initial(), TrainerTest.DATA)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.exportPeqa(file));
            assertTrue(e.getMessage().contains("not PEQA"), e.getMessage());
        }
    }
}
