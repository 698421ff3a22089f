package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;

/** End-to-end runs on a tiny LLaMA over synthetic text: every optimizer and policy learns; runs are isolated. */
class TrainerTest {
    static final LlamaConfig TINY = LlamaConfig.llama2c(32, 64, 1, 4, 2, 259 + SyntheticTokenizer.ALPHABET.length(), 32, true);
    static final TrainingData.Split DATA = TrainingData.split(TrainingData.pack(
            SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 60, 3), SyntheticTokenizer.encoder(SyntheticTokenizer.create()), 32), 0.15, 3);

    static TrainConfig.Builder base(OptimizerKind k, double lr) {
        return TrainConfig.builder().optimizer(k).learningRate(lr).steps(25).warmupSteps(2).batchSize(4).seqLen(32)
                .fp32Below(256).clip(ClipMode.GLOBAL_NORM, 1.0).seed(5);
    }

    static Trainer.Result run(TrainConfig c, List<StepMetrics> steps) {
        return run(c, LlamaWeights.random(TINY, 9, 0.05f), steps);
    }

    static Trainer.Result run(TrainConfig c, LlamaWeights initial, List<StepMetrics> steps) {
        try (Trainer t = new Trainer(c, initial, DATA)) {
            if (steps != null) t.addListener(new TrainListener() {
                @Override
                public void step(StepMetrics m) {
                    steps.add(m);
                }
            });
            return t.run();
        }
    }

    static void assertLearns(TrainConfig c) {
        Trainer.Result r = run(c, null);
        assertTrue(r.after().loss() < r.before().loss() - 0.5,
                c.optimizer + " " + c.updatePolicy + ": validation loss " + r.before().loss() + " -> " + r.after().loss());
        assertEquals(0, r.skippedSteps());
    }

    @Test
    void qftWithTheStashPolicyLearns() {
        assertLearns(base(OptimizerKind.QFT_LION, 3e-3).build());
    }

    @Test
    void qftWithFusedPerLayerUpdatesLearns() {
        assertLearns(base(OptimizerKind.QFT_LION, 3e-3).updatePolicy(UpdatePolicy.FUSED_PER_LAYER).clip(ClipMode.PER_TENSOR_NORM, 1.0).build());
    }

    @Test
    void qftAccumulatingMicroBatchesWithRoundToNearestLearns() {
        assertLearns(base(OptimizerKind.QFT_LION, 3e-3).batchSize(2).gradAccumulation(2).rounding(org.qft4j.qft.Rounding.NEAREST).build());
    }

    @Test
    void theFp32BaselinesLearnInTheSameEngine() {
        assertLearns(base(OptimizerKind.FP32_LION, 3e-3).build());
        assertLearns(base(OptimizerKind.FP32_ADAMW, 1e-2).build());
    }

    @Test
    void twoTrainersInOneJvmDoNotInterfereNorModifyTheirStartingWeights() throws Exception {
        TrainConfig a = base(OptimizerKind.QFT_LION, 3e-3).steps(8).build();
        TrainConfig b = base(OptimizerKind.FP32_ADAMW, 1e-2).steps(8).seed(6).build();
        LlamaWeights shared = LlamaWeights.random(TINY, 9, 0.05f);
        float[] norm = shared.layers[0].attentionNorm.clone(), final0 = shared.finalNorm.clone();
        float[] emb = new float[TINY.dim()];
        shared.tokenEmbedding.row(5, emb, 0);
        List<StepMetrics> alone = new ArrayList<>();
        run(a, alone);
        List<StepMetrics> together = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> fa = pool.submit(() -> run(a, shared, together));
            Future<?> fb = pool.submit(() -> run(b, shared, null));
            fa.get();
            fb.get();
        } finally {
            pool.shutdown();
        }
        assertEquals(alone.size(), together.size());
        for (int i = 0; i < alone.size(); i++) assertEquals(alone.get(i).loss(), together.get(i).loss(), 0.0, "step " + (i + 1));
        float[] embAfter = new float[TINY.dim()];
        shared.tokenEmbedding.row(5, embAfter, 0);
        assertArrayEquals(emb, embAfter);
        assertArrayEquals(norm, shared.layers[0].attentionNorm);
        assertArrayEquals(final0, shared.finalNorm);
    }

    @Test
    void theSavedModelReloadsWithTheSameValidationLoss(@TempDir Path dir) throws Exception {
        TrainConfig c = base(OptimizerKind.QFT_LION, 3e-3).steps(5).build();
        double trained;
        try (Trainer t = new Trainer(c, LlamaWeights.random(TINY, 9, 0.05f), DATA)) {
            t.run();
            trained = t.evaluate().loss();
            t.save(dir.resolve("model.bin"));
        }
        LlamaWeights back = ModelLoader.load(dir.resolve("model.bin"));
        try (Trainer t = new Trainer(base(OptimizerKind.FP32_ADAMW, 1e-2).build(), back, DATA)) {
            assertEquals(trained, t.evaluate().loss(), 1e-6);
        }
    }

    @Test
    void qftHoldsAFractionOfTheBaselinesPersistentBytes() {
        Trainer.Result q = run(base(OptimizerKind.QFT_LION, 3e-3).steps(1).warmupSteps(0).build(), null);
        Trainer.Result f = run(base(OptimizerKind.FP32_ADAMW, 1e-2).steps(1).warmupSteps(0).build(), null);
        Trainer.Result fused = run(base(OptimizerKind.QFT_LION, 3e-3).steps(1).warmupSteps(0).updatePolicy(UpdatePolicy.FUSED_PER_LAYER)
                .clip(ClipMode.NONE, 0).build(), null);
        assertEquals(16.0, f.memory().bytesPerParameter(), 1e-9, f.memory().toString());
        assertTrue(q.memory().bytesPerParameter() < 4.0, q.memory().toString());
        // FUSED_PER_LAYER holds one gradient at a time: at most the largest tensor's, the (V, C) embedding in INT8 + row scales.
        assertEquals(TINY.vocabSize() * TINY.dim() + 4L * TINY.vocabSize(), fused.memory().gradientBytes(), fused.memory().toString());
        assertTrue(fused.memory().gradientBytes() < q.memory().gradientBytes(), fused.memory() + " vs " + q.memory());
    }
}
