package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.DeviceQftTrainerTest.TINY;
import static org.qft4j.llama.DeviceQftTrainerTest.config;
import static org.qft4j.llama.DeviceQftTrainerTest.repeating;
import static org.qft4j.llama.DeviceQftTrainerTest.state;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.llama.device.DeviceQftTrainer;
import org.qft4j.nativ.CoreNative;
import org.qft4j.train.ClipMode;
import org.qft4j.train.MemoryReport;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.UpdatePolicy;

/** The fused per-layer update policy of the device trainer, on Device.CPU: same training as STASH, less gradient memory. */
class DeviceQftTrainerFusedTest {
    // Outliers re-selected every 3 steps: the fused step re-selects after backward, for the tensors it updated.
    static TrainConfig fused(ClipMode clip, int steps) {
        return config(Device.CPU, steps).clip(clip, 0.5).outlierReselectInterval(3).updatePolicy(UpdatePolicy.FUSED_PER_LAYER).build();
    }

    static TrainConfig stash(ClipMode clip, int steps) {
        return config(Device.CPU, steps).clip(clip, 0.5).outlierReselectInterval(3).build();
    }

    @Test
    void trainsBitIdenticallyToStashWithPerTensorOrNoClipping() {
        LlamaWeights w = LlamaWeights.random(TINY, 8, 0.05f);
        int[][] b = repeating();
        for (ClipMode clip : List.of(ClipMode.PER_TENSOR_NORM, ClipMode.NONE)) {
            try (DeviceQftTrainer f = new DeviceQftTrainer(w, fused(clip, 6)); DeviceQftTrainer s = new DeviceQftTrainer(w, stash(clip, 6))) {
                float[] fl = new float[6], sl = new float[6];
                for (int i = 0; i < 6; i++) {
                    DeviceQftTrainer.Step fs = f.step(b[0], b[1], 2, 16);
                    assertFalse(fs.skipped());
                    assertTrue(fs.gradNorm() > 0 && Double.isFinite(fs.gradNorm()), "largest tensor norm " + fs.gradNorm());
                    fl[i] = fs.loss();
                    sl[i] = s.step(b[0], b[1], 2, 16).loss();
                }
                assertArrayEquals(sl, fl, clip + ": losses");
                assertTrue(fl[5] < fl[0], clip + ": it learns " + Arrays.toString(fl));
                List<byte[]> fw = state(f.model()), sw = state(s.model());
                for (int i = 0; i < fw.size(); i++) assertArrayEquals(sw.get(i), fw.get(i), clip + ": tensor " + i);
            }
        }
    }

    @Test
    void holdsOneBlockOfGradients() {
        LlamaWeights w = LlamaWeights.random(TINY, 3, 0.05f);
        try (DeviceQftTrainer f = new DeviceQftTrainer(w, fused(ClipMode.PER_TENSOR_NORM, 2)); DeviceQftTrainer s = new DeviceQftTrainer(w, stash(ClipMode.GLOBAL_NORM, 2))) {
            MemoryReport fm = f.memory(), sm = s.memory();
            assertEquals(sm.weightBytes(), fm.weightBytes());
            assertEquals(sm.optimizerBytes(), fm.optimizerBytes());
            assertEquals(s.fp32StagingGradientBytes(), f.fp32StagingGradientBytes(), "one block of fp32 gradients under both policies");
            // INT8 gradients with per-row scales: the stash keeps every matrix's; fused one block's and one vocabulary matrix's
            // (the embedding and the untied classifier share it).
            long vocab = (long) TINY.vocabSize() * TINY.dim() + 4L * TINY.vocabSize();
            long int8Stash = sm.gradientBytes() - 4L * fp32Params(), int8Fused = fm.gradientBytes() - 4L * fp32Params();
            assertEquals((int8Stash - 2 * vocab) / TINY.nLayers() + vocab, int8Fused, "one block and one vocabulary matrix of INT8 gradients");
        }
    }

    @Test
    void aNonFiniteLossSkipsEveryTensorAndTheNextStepTrains() {
        int[][] b = repeating();
        try (DeviceQftTrainer t = new DeviceQftTrainer(LlamaWeights.random(TINY, 5, 0.05f), fused(ClipMode.PER_TENSOR_NORM, 4))) {
            t.step(b[0], b[1], 2, 16);
            // An infinite fp32 outlier of the classifier: finite activations, infinite logits, a NaN loss and NaN gradients
            // from the first tensor group backward hands over (classifier, final norm) to the last.
            long outlier = t.model().hybridWeight("classifier").values().address();
            float[] saved = t.model().hybridWeight("classifier").values().toFloats();
            NativeStatus.check(CoreNative.qft_copy_from_host(-1, outlier, new float[] {Float.POSITIVE_INFINITY}, 4), "poisoning");
            List<byte[]> before = state(t.model());
            DeviceQftTrainer.Step r = t.step(b[0], b[1], 2, 16);
            assertTrue(r.skipped() && Double.isNaN(r.gradNorm()), r.toString());
            assertEquals(2, t.stepsDone());
            List<byte[]> after = state(t.model());
            for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), after.get(i), "tensor " + i + " after a skipped step");
            NativeStatus.check(CoreNative.qft_copy_from_host(-1, outlier, saved, 4), "restoring");
            assertFalse(t.step(b[0], b[1], 2, 16).skipped());
        }
    }

    @Test
    void nonFiniteActivationsSkipTheStepAndChangeNothing() {
        int[][] b = repeating();
        try (DeviceQftTrainer t = new DeviceQftTrainer(LlamaWeights.random(TINY, 5, 0.05f), fused(ClipMode.PER_TENSOR_NORM, 4))) {
            t.step(b[0], b[1], 2, 16);
            long norm = t.model().parameter("final_norm").address();
            float[] saved = t.model().parameter("final_norm").toFloats();
            NativeStatus.check(CoreNative.qft_copy_from_host(-1, norm + 4L * 3, new float[] {Float.NaN}, 4), "poisoning");
            List<byte[]> before = state(t.model());
            // Every matrix is an INT8 matmul on per-token quantized activations: a NaN activation gets a NaN scale, the
            // loss is NaN and the step is skipped, with no host sync in forward to find it earlier.
            DeviceQftTrainer.Step r = t.step(b[0], b[1], 2, 16);
            assertTrue(r.skipped() && Float.isNaN(r.loss()), r.toString());
            assertEquals(2, t.stepsDone());
            List<byte[]> after = state(t.model());
            for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), after.get(i), "tensor " + i + " after the error");
            NativeStatus.check(CoreNative.qft_copy_from_host(-1, norm, saved, 4L * saved.length), "restoring");
            assertFalse(t.step(b[0], b[1], 2, 16).skipped());
            assertEquals(3, t.stepsDone());
        }
    }

    @Test
    void updatesOnlyThroughStep() {
        int[][] b = repeating();
        try (DeviceQftTrainer t = new DeviceQftTrainer(LlamaWeights.random(TINY, 5, 0.05f), fused(ClipMode.NONE, 2))) {
            assertThrows(IllegalStateException.class, () -> t.forwardBackward(b[0], b[1], 2, 16));
            assertThrows(IllegalStateException.class, () -> t.update(1f));
            assertThrows(IllegalStateException.class, () -> t.model().backward(), "shared block gradients need a hook");
        }
    }

    /** The norms: the only fp32 parameters. */
    private static long fp32Params() {
        return (2L * TINY.nLayers() + 1) * TINY.dim();
    }
}
