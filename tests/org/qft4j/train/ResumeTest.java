package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.checkpoint.Checkpoint;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.llama.LlamaWeights;

/**
 * llm.c's determinism test on the real trainer: train 10 steps, checkpoint, train 10 more recording the losses;
 * resume the step-10 checkpoint (in a fresh JVM, and in-process for each policy and baseline) and train the same
 * 10 steps: every loss and every saved tensor (weights, outliers, momentum, AdamW moments) is bit-identical.
 */
class ResumeTest {
    static final int STEPS = 20, SAVE_EVERY = 10;

    /** Outliers are re-selected at step 7 and 14, so the resumed half crosses a re-selection. */
    static TrainConfig config(OptimizerKind k, UpdatePolicy p, Path out) {
        TrainConfig.Builder b = TrainConfig.builder().optimizer(k).learningRate(k == OptimizerKind.FP32_ADAMW ? 1e-2 : 3e-3)
                .steps(STEPS).warmupSteps(2).batchSize(4).seqLen(32).fp32Below(256).outlierReselectInterval(7)
                .evalSequences(4).checkpointInterval(SAVE_EVERY).keepLast(5).outputDir(out).seed(5);
        if (p == UpdatePolicy.FUSED_PER_LAYER) b.updatePolicy(p).clip(ClipMode.PER_TENSOR_NORM, 1.0);
        else b.clip(ClipMode.GLOBAL_NORM, 1.0);
        return b.build();
    }

    static LlamaWeights initial() {
        return LlamaWeights.random(TrainerTest.TINY, 9, 0.05f);
    }

    /** Runs the whole config, returning the loss bits of each step (index 0 = step 1). */
    private static List<Long> train(Trainer t) {
        List<Long> losses = new ArrayList<>();
        t.addListener(new TrainListener() {
            @Override
            public void step(StepMetrics m) {
                losses.add(Double.doubleToRawLongBits(m.loss()));
            }
        });
        t.run();
        return losses;
    }

    private static Checkpoint checkpoint(Path out, long step) throws CheckpointException {
        return Checkpoint.load(CheckpointStore.open(Trainer.checkpointDirectory(out)).fileFor(step), org.qft4j.checkpoint.CheckpointSchema.ANY);
    }

    private static void assertSameState(Checkpoint a, Checkpoint b) {
        assertEquals(a.tensors().keySet(), b.tensors().keySet());
        for (Map.Entry<String, TensorBuffer> e : a.tensors().entrySet())
            assertArrayEquals(e.getValue().toBytes(), b.tensor(e.getKey()).toBytes(), "tensor " + e.getKey() + " differs");
        for (String k : List.of(Trainer.LOADER_EPOCH_KEY, Trainer.LOADER_INDEX_KEY, Checkpoint.STEP_KEY))
            assertEquals(a.metadata().get(k), b.metadata().get(k), k);
    }

    @Test
    void aFreshJvmResumesQftBitExactly(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("first"), second = dir.resolve("second");
        List<Long> losses;
        try (Trainer t = new Trainer(config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, first), initial(), TrainerTest.DATA)) {
            losses = train(t);
        }
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), ResumeChild.class.getName(),
                CheckpointStore.open(Trainer.checkpointDirectory(first)).fileFor(SAVE_EVERY).toString(), second.toString(),
                OptimizerKind.QFT_LION.name(), UpdatePolicy.STASH.name());
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process child = pb.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = in.readLine()) != null; ) if (l.startsWith("loss ")) lines.add(l);
        }
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "the child did not finish");
        assertEquals(0, child.exitValue());
        List<String> expected = new ArrayList<>();
        for (int s = SAVE_EVERY + 1; s <= STEPS; s++)
            expected.add(String.format(Locale.ROOT, "loss %d %x", s, losses.get(s - 1)));
        assertEquals(expected, lines, "losses of steps 11..20 after resuming in a fresh JVM");
        assertSameState(checkpoint(first, STEPS), checkpoint(second, STEPS));
    }

    private static void assertResumesInProcess(OptimizerKind k, UpdatePolicy p, Path dir) throws Exception {
        Path first = dir.resolve("first"), second = dir.resolve("second");
        List<Long> losses, resumed;
        try (Trainer t = new Trainer(config(k, p, first), initial(), TrainerTest.DATA)) {
            losses = train(t);
        }
        try (Trainer t = new Trainer(config(k, p, second), initial(), TrainerTest.DATA)) {
            t.resume(Checkpoint.load(CheckpointStore.open(Trainer.checkpointDirectory(first)).fileFor(SAVE_EVERY), t.schema()));
            assertEquals(SAVE_EVERY, t.stepsDone());
            resumed = train(t);
        }
        assertEquals(losses.subList(SAVE_EVERY, STEPS), resumed, k + " " + p + ": losses after resuming");
        assertSameState(checkpoint(first, STEPS), checkpoint(second, STEPS));
        assertTrue(!losses.get(SAVE_EVERY).equals(losses.get(STEPS - 1)), "the losses must change, or the comparison proves nothing");
    }

    @Test
    void qftStashResumesBitExactlyInProcess(@TempDir Path dir) throws Exception {
        assertResumesInProcess(OptimizerKind.QFT_LION, UpdatePolicy.STASH, dir);
    }

    @Test
    void qftFusedPerLayerResumesBitExactlyInProcess(@TempDir Path dir) throws Exception {
        assertResumesInProcess(OptimizerKind.QFT_LION, UpdatePolicy.FUSED_PER_LAYER, dir);
    }

    @Test
    void theFp32BaselinesResumeBitExactly(@TempDir Path dir) throws Exception {
        assertResumesInProcess(OptimizerKind.FP32_ADAMW, UpdatePolicy.STASH, dir.resolve("adamw"));
        assertResumesInProcess(OptimizerKind.FP32_LION, UpdatePolicy.STASH, dir.resolve("lion"));
    }

    @Test
    void aCheckpointOfAnotherConfigOrModelIsRejectedWithTheReason(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("first");
        try (Trainer t = new Trainer(config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, first), initial(), TrainerTest.DATA)) {
            train(t);
        }
        Path file = CheckpointStore.open(Trainer.checkpointDirectory(first)).fileFor(SAVE_EVERY);
        TrainConfig adamw = config(OptimizerKind.FP32_ADAMW, UpdatePolicy.STASH, dir.resolve("a"));
        try (Trainer t = new Trainer(adamw, initial(), TrainerTest.DATA)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file, t.schema()));
            assertTrue(e.getMessage().contains("another model or config"), e.getMessage());
        }
        TrainConfig otherLr = config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, dir.resolve("b")).toBuilder().learningRate(1e-3).build();
        try (Trainer t = new Trainer(otherLr, initial(), TrainerTest.DATA)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> t.resume(Checkpoint.load(file, t.schema())));
            assertTrue(e.getMessage().contains("resume with the options it was trained with"), e.getMessage());
            assertEquals(0, t.stepsDone(), "a rejected checkpoint changes nothing");
        }
        var wider = org.qft4j.llama.LlamaConfig.llama2c(48, 64, 1, 4, 2, TrainerTest.TINY.vocabSize(), 32, true);
        try (Trainer t = new Trainer(config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, dir.resolve("c")),
                LlamaWeights.random(wider, 9, 0.05f), TrainerTest.DATA)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(file, t.schema()));
            assertTrue(e.getMessage().contains("another model config"), e.getMessage());
            assertTrue(t.resumeLatest(Trainer.checkpointDirectory(first)).isEmpty(), "no checkpoint there fits this model");
        }
    }
}
