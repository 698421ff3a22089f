package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.tensor.LeakCheck;
import org.qft4j.train.TrainConfig;

/**
 * QFT training on CUDA against the same trainer on the CPU. The first loss is a forward pass on identical weights and
 * agrees as DeviceLlama's forward does (1e-4 relative); later losses drift apart because a one-ulp difference in a
 * Lion input can flip a weight's INT8 code. The bound {@link #DRIFT} over 10 steps is an estimate (0.05 nats), to be
 * confirmed on an H100.
 */
@GpuTest
class DeviceQftTrainerCudaTest {
    static final double DRIFT = 0.05;

    @Test
    void cudaTrainerFollowsTheCpuTrainer() {
        Device gpu = Gpus.require();
        LlamaWeights w = LlamaWeights.random(DeviceQftTrainerTest.TINY, 3, 0.05f);
        TrainConfig.Builder b = DeviceQftTrainerTest.config(Device.CPU, 10);
        float[] cpu = DeviceQftTrainerTest.losses(w, b.build()), cuda = DeviceQftTrainerTest.losses(w, b.device(gpu).build());
        assertEquals(cpu[0], cuda[0], 1e-4 * cpu[0], "first step: a forward pass on the same weights");
        for (int s = 0; s < cpu.length; s++) assertEquals(cpu[s], cuda[s], DRIFT, "step " + (s + 1));
        assertTrue(cuda[9] < cuda[0], "CUDA trainer learns");
    }

    /** The fused per-layer policy runs the stash policy's kernels on the same values, tensor group by group: same bits. */
    @Test
    void cudaFusedPolicyTrainsBitIdenticallyToStash() {
        Device gpu = Gpus.require();
        LlamaWeights w = LlamaWeights.random(DeviceQftTrainerTest.TINY, 8, 0.05f);
        TrainConfig.Builder b = DeviceQftTrainerTest.config(gpu, 8).clip(org.qft4j.train.ClipMode.PER_TENSOR_NORM, 0.5);
        float[] stash = DeviceQftTrainerTest.losses(w, b.build()), fused = DeviceQftTrainerTest.losses(w, b.updatePolicy(org.qft4j.train.UpdatePolicy.FUSED_PER_LAYER).build());
        assertArrayEquals(stash, fused);
        assertTrue(fused[7] < fused[0], "fused CUDA trainer learns");
    }

    @Test
    void cudaResumesACheckpointBitExactly(@TempDir Path dir) throws Exception {
        DeviceQftTrainerTest.assertResumesBitExactly(Gpus.require(), dir);
    }

    @Test
    void cudaTrainingIsDeterministicAndLeakFree() {
        Device gpu = Gpus.require();
        LlamaWeights w = LlamaWeights.random(DeviceQftTrainerTest.TINY, 4, 0.05f);
        TrainConfig c = DeviceQftTrainerTest.config(gpu, 10).build();
        assertArrayEquals(DeviceQftTrainerTest.losses(w, c), DeviceQftTrainerTest.losses(w, c), "two CUDA runs");
        int[][] b = DeviceQftTrainerTest.repeating();
        try (org.qft4j.llama.device.DeviceQftTrainer t = new org.qft4j.llama.device.DeviceQftTrainer(w, DeviceQftTrainerTest.config(gpu, 30).build())) {
            LeakCheck.assertFlat(gpu, 2, 10, i -> t.step(b[0], b[1], 2, 16));
        }
    }
}
