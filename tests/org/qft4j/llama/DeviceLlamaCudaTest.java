package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.qft4j.llama.device.Close.assertClose;

import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.DevicePerplexity;
import org.qft4j.tensor.LeakCheck;

/**
 * DeviceLlama on CUDA against the Java engine and against itself on the CPU. Expected agreement: 1e-4 relative to each
 * tensor's largest value (every op agrees with its C++ reference to ~1e-6; the differences, fused multiply-adds and
 * tree sums, compound through the layers and the backward pass).
 */
@GpuTest
class DeviceLlamaCudaTest {
    private static final double REL = 1e-4;

    @Test
    void randomGqaModelMatchesJavaEngineInBothRopeLayouts() {
        Device gpu = Gpus.require();
        for (RopeLayout layout : RopeLayout.values()) {
            LlamaWeights w = LlamaWeights.random(DeviceLlamaTest.tiny(layout, false), 1, 0.2f);
            int[][] b = DeviceLlamaTest.batch(2, 9, 50, 2);
            DeviceLlamaTest.assertMatchesJavaEngine(w, gpu, b[0], b[1], 2, 9, REL);
        }
    }

    @Test
    void tiedStories260KMatchesJavaEngine() throws Exception {
        Device gpu = Gpus.require();
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL)).toFp32();
        int n = Shared.FOX_IDS.length - 1;
        int[] tokens = java.util.Arrays.copyOf(Shared.FOX_IDS, n), targets = java.util.Arrays.copyOfRange(Shared.FOX_IDS, 1, n + 1);
        DeviceLlamaTest.assertMatchesJavaEngine(w, gpu, tokens, targets, 1, n, REL);
    }

    @Test
    void largerModelAgreesWithCpuBackend() {
        Device gpu = Gpus.require();
        LlamaConfig cfg = new LlamaConfig(256, 688, 2, 8, 2, 1000, 160, 1e-5f, 10000f, RopeLayout.ROTATE_HALF, false);
        LlamaWeights w = LlamaWeights.random(cfg, 3, 0.05f);
        int[][] b = DeviceLlamaTest.batch(2, 150, cfg.vocabSize(), 4);
        for (Fp32Math math : Fp32Math.values())
            try (DeviceLlama cpu = new DeviceLlama(w, Device.CPU, 2, 150); DeviceLlama cuda = new DeviceLlama(w, gpu, 2, 150)) {
                cpu.fp32Math(math);
                cuda.fp32Math(math);
                // TF32: the backends round the same operands, but a last-bit difference of a sum can round the next
                // product's operand to the neighbouring TF32 value (2^-11 relative), so agreement is looser than fp32's.
                double rel = math == Fp32Math.FP32 ? REL : 2e-3;
                float lossCpu = cpu.forward(b[0], b[1], 2, 150), lossGpu = cuda.forward(b[0], b[1], 2, 150);
                assertEquals(lossCpu, lossGpu, Math.abs(lossCpu) * rel, math + " loss");
                assertClose(cpu.logits(), cuda.logits(), rel, math + " logits");
                cpu.backward();
                cuda.backward();
                for (String name : cpu.parameterNames())
                    assertClose(cpu.gradient(name).toFloats(), cuda.gradient(name).toFloats(), rel, math + " gradient of " + name);
            }
    }

    @Test
    void cudaRunsAreBitwiseDeterministic() {
        Device gpu = Gpus.require();
        LlamaWeights w = LlamaWeights.random(DeviceLlamaTest.tiny(RopeLayout.ADJACENT_PAIRS, true), 15, 0.2f);
        int[][] b = DeviceLlamaTest.batch(3, 12, 50, 16);
        float[][] first = DeviceLlamaTest.gradientsOfOneStep(w, gpu, b[0], b[1], 3, 12);
        float[][] second = DeviceLlamaTest.gradientsOfOneStep(w, gpu, b[0], b[1], 3, 12);
        for (int i = 0; i < first.length; i++) org.junit.jupiter.api.Assertions.assertArrayEquals(first[i], second[i], "parameter " + i);
    }

    @Test
    void recomputeOnCudaGivesTheSameGradientsBitForBit() {
        Device gpu = Gpus.require();
        LlamaWeights w = LlamaWeights.random(DeviceLlamaTest.tiny(RopeLayout.ROTATE_HALF, false), 17, 0.2f);
        int[][] b = DeviceLlamaTest.batch(2, 10, 50, 18);
        float[][] kept = DeviceLlamaTest.gradientsOfOneStep(w, gpu, b[0], b[1], 2, 10, DeviceLlama.Recompute.NONE);
        float[][] recomputed = DeviceLlamaTest.gradientsOfOneStep(w, gpu, b[0], b[1], 2, 10, DeviceLlama.Recompute.SEGMENTS);
        for (int i = 0; i < kept.length; i++) org.junit.jupiter.api.Assertions.assertArrayEquals(kept[i], recomputed[i], "parameter " + i);
    }

    @Test
    void foxPerplexityOnCuda() throws Exception {
        Device gpu = Gpus.require();
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL));
        try (DeviceLlama m = new DeviceLlama(w, gpu, 1, 64)) {
            Perplexity.Result r = DevicePerplexity.sequence(m, Shared.FOX_IDS);
            assertEquals(34, r.predicted());
            assertEquals(4.953633, r.perplexity(), 4.953633 * 1e-4);
        }
    }

    @Test
    void trainingStepsLeaveGpuMemoryFlat() {
        Device gpu = Gpus.require();
        LlamaWeights w = LlamaWeights.random(DeviceLlamaTest.tiny(RopeLayout.ADJACENT_PAIRS, false), 5, 0.2f);
        int[][] b = DeviceLlamaTest.batch(2, 8, 50, 6);
        try (DeviceLlama m = new DeviceLlama(w, gpu, 2, 8)) {
            LeakCheck.assertFlat(gpu, 1, 20, i -> {
                m.forward(b[0], b[1], 2, 8);
                m.backward();
                m.zeroGradients();
            });
        }
        LeakCheck.assertFlat(gpu, 1, 3, i -> new DeviceLlama(w, gpu, 1, 8).close());
    }

    @Test
    void qftLinearLayersOnCudaTrackTheDequantizedModel() throws Exception {
        Device gpu = Gpus.require();
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL)).toFp32();
        int n = Shared.FOX_IDS.length - 1;
        DeviceLlamaTest.assertQftTracksDequantizedModel(w, gpu, java.util.Arrays.copyOf(Shared.FOX_IDS, n),
                java.util.Arrays.copyOfRange(Shared.FOX_IDS, 1, n + 1), 1, n);
    }
}
