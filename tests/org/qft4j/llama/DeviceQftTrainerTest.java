package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.checkpoint.Checkpoint;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.llama.device.DeviceQftTrainer;
import org.qft4j.nativ.CoreNative;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.LeakCheck;
import org.qft4j.tensor.MemoryStats;
import org.qft4j.train.ClipMode;
import org.qft4j.train.MemoryReport;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.UpdatePolicy;

/** QFT training on the device engine, on Device.CPU (the C++ reference ops): learning, determinism, skipping, memory. */
class DeviceQftTrainerTest {
    static final LlamaConfig TINY = new LlamaConfig(32, 64, 2, 4, 2, 50, 16, 1e-5f, 10000f, RopeLayout.ROTATE_HALF, false);

    static TrainConfig.Builder config(Device device, int steps) {
        return TrainConfig.builder().learningRate(3e-3).steps(steps).warmupSteps(2).batchSize(2).seqLen(16)
                .clip(ClipMode.GLOBAL_NORM, 1.0).weightDecay(0.1).seed(7).device(device);
    }

    /** (2, 16) tokens and next-token targets of a period-7 sequence, the rows shifted against each other. */
    static LlamaWeights resumeWeights() {
        return LlamaWeights.random(TINY, 12, 0.05f);
    }

    static TrainConfig resumeConfig(Device device) {
        return config(device, 10).outlierReselectInterval(3).build();
    }

    static int[][] repeating() {
        int[] tokens = new int[32], targets = new int[32];
        int[] period = {3, 17, 8, 41, 23, 5, 30};
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 16; t++) {
                tokens[b * 16 + t] = period[(t + 3 * b) % 7];
                targets[b * 16 + t] = period[(t + 3 * b + 1) % 7];
            }
        return new int[][] {tokens, targets};
    }

    /** Losses of every step of a run on the repeating sequence. */
    static float[] losses(LlamaWeights w, TrainConfig c) {
        int[][] b = repeating();
        float[] out = new float[c.steps];
        try (DeviceQftTrainer t = new DeviceQftTrainer(w, c)) {
            for (int s = 0; s < c.steps; s++) {
                DeviceQftTrainer.Step r = t.step(b[0], b[1], 2, 16);
                assertFalse(r.skipped(), "step " + r.step());
                out[s] = r.loss();
            }
        }
        return out;
    }

    @Test
    void learnsARepeatingSequence() {
        float[] l = losses(LlamaWeights.random(TINY, 3, 0.05f), config(Device.CPU, 30).build());
        System.out.printf("device QFT, CPU, repeating sequence: loss %.4f -> %.4f over 30 steps%n", l[0], l[29]);
        assertTrue(l[29] < 0.5f * l[0], "loss " + l[0] + " -> " + l[29] + ": " + Arrays.toString(l));
    }

    @Test
    void sameSeedGivesBitIdenticalLossesAndWeights() {
        LlamaWeights w = LlamaWeights.random(TINY, 4, 0.05f);
        TrainConfig c = config(Device.CPU, 12).build();
        assertArrayEquals(losses(w, c), losses(w, c), "two runs with the same seed");
        int[][] b = repeating();
        try (DeviceQftTrainer x = new DeviceQftTrainer(w, c); DeviceQftTrainer y = new DeviceQftTrainer(w, c)) {
            for (int s = 0; s < 5; s++) {
                x.step(b[0], b[1], 2, 16);
                y.step(b[0], b[1], 2, 16);
            }
            for (String name : x.model().parameterNames()) assertArrayEquals(snapshot(x.model(), name), snapshot(y.model(), name), name);
        }
    }

    @Test
    void stochasticRoundingSeedChangesTheRun() {
        LlamaWeights w = LlamaWeights.random(TINY, 4, 0.05f);
        float[] a = losses(w, config(Device.CPU, 6).build()), b = losses(w, config(Device.CPU, 6).seed(8).build());
        assertFalse(Arrays.equals(a, b), "seeds 7 and 8 round the weights differently");
    }

    @Test
    void aNonFiniteGradientSkipsTheStepAndChangesNothing() {
        LlamaWeights w = LlamaWeights.random(TINY, 5, 0.05f);
        int[][] b = repeating();
        for (String poisoned : List.of("layers.1.w2", "layers.0.ffn_norm", "token_embedding")) {
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
                try (DeviceQftTrainer t = new DeviceQftTrainer(w, config(Device.CPU, 10).build())) {
                    t.step(b[0], b[1], 2, 16);
                    List<byte[]> before = state(t.model());
                    float loss = t.forwardBackward(b[0], b[1], 2, 16);
                    // A matrix's gradient is already INT8 here: a non-finite fp32 value would have made its block scale non-finite.
                    long at = t.model().isHybrid(poisoned) ? t.gradientStash(poisoned).scales().address() : t.model().gradient(poisoned).address() + 4L * 7;
                    NativeStatus.check(CoreNative.qft_copy_from_host(-1, at, new float[] {bad}, 4), "poisoning");
                    DeviceQftTrainer.Step r = t.update(loss);
                    assertTrue(r.skipped(), bad + " in " + poisoned);
                    assertTrue(Double.isNaN(r.gradNorm()));
                    assertEquals(2, t.stepsDone());
                    List<byte[]> after = state(t.model());
                    for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), after.get(i), "tensor " + i + " after a skipped step");
                    DeviceQftTrainer.Step next = t.step(b[0], b[1], 2, 16);
                    assertFalse(next.skipped(), "the step after a skipped one trains");
                    assertTrue(Double.isFinite(next.gradNorm()));
                }
            }
        }
    }

    @Test
    void clippingModesAllLearn() {
        LlamaWeights w = LlamaWeights.random(TINY, 6, 0.05f);
        for (ClipMode mode : ClipMode.values()) {
            float[] l = losses(w, config(Device.CPU, 20).clip(mode, 0.5).build());
            assertTrue(l[19] < 0.7f * l[0], mode + ": loss " + l[0] + " -> " + l[19]);
        }
    }

    @Test
    void blockWiseGradientAndMomentumScalesLearnToo() {
        int[][] b = repeating();
        try (DeviceQftTrainer t = new DeviceQftTrainer(LlamaWeights.random(TINY, 3, 0.05f), config(Device.CPU, 20).build(), 16)) {
            float first = t.step(b[0], b[1], 2, 16).loss(), last = first;
            for (int s = 1; s < 20; s++) last = t.step(b[0], b[1], 2, 16).loss();
            assertTrue(last < 0.7f * first, "block 16: loss " + first + " -> " + last);
        }
    }

    @Test
    void memoryReportCountsWhatIsAllocated() {
        try (DeviceQftTrainer t = new DeviceQftTrainer(LlamaWeights.random(TINY, 3, 0.05f), config(Device.CPU, 2).build())) {
            MemoryReport m = t.memory();
            long blockParams = (long) TINY.nLayers() * (2L * TINY.dim() * TINY.dim() + 2L * TINY.kvDim() * TINY.dim() + 3L * TINY.dim() * TINY.hiddenDim());
            long matrixParams = blockParams + 2L * TINY.vocabSize() * TINY.dim(); // the blocks', the embedding, the untied classifier
            long fp32Params = (2L * TINY.nLayers() + 1) * TINY.dim();            // the norms
            assertEquals(matrixParams + fp32Params, m.parameters());
            long hybridBytes = 0, rowScales = 0, hybrids = 0;
            for (String name : t.model().parameterNames())
                if (t.model().isHybrid(name)) {
                    hybridBytes += t.model().hybridWeight(name).bytes();
                    rowScales += 4L * t.model().hybridWeight(name).rows();
                    hybrids++;
                }
            assertEquals(7L * TINY.nLayers() + 2, hybrids, "every matrix is hybrid INT8");
            assertEquals(hybridBytes + 4 * fp32Params, m.weightBytes());
            // per-row scales: INT8 momentum and gradients take 1 byte per element plus 4 per row; fp32 tensors 4 each
            assertEquals(matrixParams + rowScales + 4 * fp32Params, m.optimizerBytes());
            assertEquals(matrixParams + rowScales + 4 * fp32Params, m.gradientBytes());
            long largest = Math.max((long) TINY.dim() * Math.max(TINY.dim(), TINY.hiddenDim()), (long) TINY.vocabSize() * TINY.dim());
            assertEquals(4 * largest, t.fp32StagingGradientBytes(), "one fp32 staging buffer: the largest matrix's gradient");
            System.out.println("device QFT memory (tiny): " + m);
        }
    }

    @Test
    void stories260KLearnsAStory() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL)).toFp32();
        int n = Shared.FOX_IDS.length - 1;
        int[] tokens = Arrays.copyOf(Shared.FOX_IDS, n), targets = Arrays.copyOfRange(Shared.FOX_IDS, 1, n + 1);
        TrainConfig c = config(Device.CPU, 30).batchSize(1).seqLen(n).learningRate(1e-3).build();
        try (DeviceQftTrainer t = new DeviceQftTrainer(w, c)) {
            MemoryReport m = t.memory();
            float first = t.step(tokens, targets, 1, n).loss(), last = first;
            for (int s = 1; s < 30; s++) last = t.step(tokens, targets, 1, n).loss();
            System.out.printf("device QFT, CPU, stories260K on one sentence: loss %.4f -> %.4f over 30 steps; %s%n", first, last, m);
            assertTrue(last < 0.5f * first, "loss " + first + " -> " + last);
        }
    }

    @Test
    void trainingLeavesNativeMemoryFlatAndCloseFreesEverything() {
        LlamaWeights w = LlamaWeights.random(TINY, 3, 0.05f);
        int[][] b = repeating();
        long before = MemoryStats.of(Device.CPU).liveBytes();
        try (DeviceQftTrainer t = new DeviceQftTrainer(w, config(Device.CPU, 40).build())) {
            LeakCheck.assertFlat(Device.CPU, 2, 10, i -> t.step(b[0], b[1], 2, 16 - i % 3));
        }
        LeakCheck.assertFlat(Device.CPU, 0, 3, i -> {
            try (DeviceQftTrainer t = new DeviceQftTrainer(w, config(Device.CPU, 2).build())) {
                t.step(b[0], b[1], 2, 16);
            }
        });
        assertEquals(before, MemoryStats.of(Device.CPU).liveBytes(), "every tensor freed");
    }

    @Test
    void resumingACheckpointContinuesBitExactly(@TempDir Path dir) throws Exception {
        assertResumesBitExactly(Device.CPU, dir);
    }

    /**
     * llm.c's determinism test: train 10 steps straight; train 5, save, take a step past the save; then a fresh JVM
     * ({@link DeviceResumeChild}) reloads the checkpoint and trains steps 6..10: the same loss bits, and the same
     * weights, scales and momenta bit for bit.
     */
    static void assertResumesBitExactly(Device device, Path dir) throws Exception {
        LlamaWeights w = resumeWeights();
        TrainConfig c = resumeConfig(device);
        int[][] b = repeating();
        List<String> expected = new ArrayList<>();
        try (DeviceQftTrainer t = new DeviceQftTrainer(w, c)) {
            for (int s = 1; s <= 10; s++) {
                float loss = t.step(b[0], b[1], 2, 16).loss();
                if (s > 5) expected.add(DeviceResumeChild.lossLine(s, loss));
            }
            for (byte[] tensor : state(t.model())) expected.add(DeviceResumeChild.stateLine(tensor));
        }
        CheckpointStore store = CheckpointStore.open(dir);
        try (DeviceQftTrainer t = new DeviceQftTrainer(w, c)) {
            for (int s = 0; s < 5; s++) t.step(b[0], b[1], 2, 16);
            assertTrue(t.saveCheckpoint(store).saved());
            t.step(b[0], b[1], 2, 16); // the live trainer moves past the checkpoint: only the file may carry the state
        }
        assertEquals(expected, DeviceResumeChild.run(device, dir), "steps 6..10 and the final state after a fresh JVM resumed step 5");
        try (DeviceQftTrainer other = new DeviceQftTrainer(w, config(device, 10).seed(99).build())) {
            Checkpoint ckpt = store.latestValid(other.schema()).orElseThrow();
            CheckpointException e = assertThrows(CheckpointException.class, () -> other.resume(ckpt));
            assertTrue(e.getMessage().contains("seed=99"), e.getMessage());
            assertEquals(0, other.stepsDone(), "a refused checkpoint changes nothing");
        }
    }

    @Test
    void rejectsWhatItDoesNotTrain() {
        LlamaWeights w = LlamaWeights.random(TINY, 3, 0.05f);
        assertThrows(IllegalArgumentException.class, () -> new DeviceQftTrainer(w, config(Device.CPU, 2).optimizer(org.qft4j.train.OptimizerKind.FP32_LION).build()));
        assertThrows(IllegalArgumentException.class, () -> new DeviceQftTrainer(w, config(Device.CPU, 2).updatePolicy(UpdatePolicy.FUSED_PER_LAYER).clip(ClipMode.GLOBAL_NORM, 1).build()),
                "the fused policy has no global norm to clip by");
        int[][] b = repeating();
        try (DeviceQftTrainer t = new DeviceQftTrainer(w, config(Device.CPU, 2).build())) {
            t.step(b[0], b[1], 2, 16);
            t.step(b[0], b[1], 2, 16);
            assertThrows(IllegalStateException.class, () -> t.step(b[0], b[1], 2, 16), "past the configured steps");
        }
    }

    /** Every byte of a parameter as stored: hybrid codes, scales, outlier values; or the fp32 values. */
    static byte[] snapshot(DeviceLlama m, String name) {
        List<byte[]> parts = new ArrayList<>();
        if (m.isHybrid(name)) {
            HybridWeight h = m.hybridWeight(name);
            parts.add(h.codes().toBytes());
            parts.add(floatBytes(h.scales().toFloats()));
            parts.add(floatBytes(h.values().toFloats()));
            parts.add(intBytes(h.rowPtr().toInts()));
            parts.add(intBytes(h.colIdx().toInts()));
        } else {
            parts.add(floatBytes(m.parameter(name).toFloats()));
        }
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static List<byte[]> state(DeviceLlama m) {
        List<byte[]> s = new ArrayList<>();
        for (String name : m.parameterNames()) s.add(snapshot(m, name));
        return s;
    }

    static byte[] intBytes(int[] v) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length);
        for (int x : v) b.putInt(x);
        return b.array();
    }

    static byte[] floatBytes(float[] v) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length);
        for (float x : v) b.putFloat(x);
        return b.array();
    }
}
