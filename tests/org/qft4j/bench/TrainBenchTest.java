package org.qft4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.Int8Backward;
import org.qft4j.llama.device.OutlierProducts;
import org.qft4j.tensor.MemoryStats;
import org.qft4j.train.UpdatePolicy;

/** The CI guard of the GPU training benchmark: it builds and trains the tiny shape on the CPU (no timing is checked). */
class TrainBenchTest {
    static TrainBench.Options tiny(UpdatePolicy policy, DeviceLlama.Recompute recompute) {
        return new TrainBench.Options(TrainBench.Shape.TINY, Device.CPU, policy, 2, 32, 1, 1, 1, recompute, Int8Backward.BackwardMatmuls.FP32, Fp32Math.FP32, OutlierProducts.FP32_SPARSE, 5);
    }

    @Test
    void tinyShapeTrainsOnCpuAndReportsEveryFigure() {
        long liveBefore = MemoryStats.of(Device.CPU).liveBytes();
        Map<String, Object> r = TrainBench.run(tiny(UpdatePolicy.STASH, DeviceLlama.Recompute.NONE));
        assertEquals(liveBefore, MemoryStats.of(Device.CPU).liveBytes(), "native memory left after the bench");
        assertEquals(true, r.get("fits"), r.toString());
        assertEquals(TrainBench.Shape.TINY.config(32).parameterCount(), r.get("params"));
        double loss = (Double) r.get("final_loss");
        assertTrue(Math.abs(loss - Math.log(512)) < 0.5, "random weights and tokens: loss near ln(512), got " + loss);
        assertTrue((Double) r.get("tokens_per_s") > 0, r.toString());
        double perParam = (Double) r.get("persistent_bytes_per_param");
        assertTrue(perParam > 3 && perParam < 16, "QFT state under fp32 AdamW's 16 bytes/param: " + perParam);
        // Every matrix's fp32 gradient is staged in one buffer, quantized into the INT8 stash as soon as backward completes it.
        assertEquals(4.0 * stagedParams(), (Double) r.get("fp32_staging_grad_bytes_per_param"), 1e-3);
        for (String phase : new String[] {"forward_ms", "backward_ms", "quantize_ms", "optimizer_ms"})
            assertTrue((Double) r.get(phase) >= 0, phase + " in " + r);
        assertEquals(null, r.get("mfu_pct_of_bf16_peak"), "no utilisation against an H100 peak on the CPU");
        String json = TrainBench.json(r);
        assertTrue(json.startsWith("{\"impl\": \"qft4j\"") && json.contains("\"fits\": true") && json.contains("\"mfu_pct_of_bf16_peak\": null"), json);
    }

    @Test
    void recomputationTrainsTheSameSteps() {
        Object kept = TrainBench.run(tiny(UpdatePolicy.STASH, DeviceLlama.Recompute.NONE)).get("final_loss");
        assertEquals(kept, TrainBench.run(tiny(UpdatePolicy.STASH, DeviceLlama.Recompute.BLOCKS)).get("final_loss"));
        Map<String, Object> segments = TrainBench.run(tiny(UpdatePolicy.FUSED_PER_LAYER, DeviceLlama.Recompute.SEGMENTS));
        assertEquals("segments", segments.get("recompute_mode"));
        assertEquals(kept, TrainBench.run(tiny(UpdatePolicy.STASH, DeviceLlama.Recompute.SEGMENTS)).get("final_loss"));
    }

    @Test
    void bothPoliciesStageOneBlockOfFp32Gradients() {
        Map<String, Object> stash = TrainBench.run(tiny(UpdatePolicy.STASH, DeviceLlama.Recompute.NONE)),
                fused = TrainBench.run(tiny(UpdatePolicy.FUSED_PER_LAYER, DeviceLlama.Recompute.BLOCKS));
        assertEquals(true, fused.get("fits"), fused.toString());
        assertEquals("qft-lion-fused", fused.get("mode"));
        assertEquals((Double) stash.get("fp32_staging_grad_bytes_per_param"), (Double) fused.get("fp32_staging_grad_bytes_per_param"), 1e-3);
        assertTrue((Double) fused.get("persistent_bytes_per_param") < (Double) stash.get("persistent_bytes_per_param"), fused + " vs " + stash);
    }

    /** The bench's INT8 backward modes run and free everything (their accuracy: DeviceLlamaTest, Int8BackwardTest). */
    @Test
    void int8BackwardMatmulsRunWithoutLeaks() {
        long liveBefore = MemoryStats.of(Device.CPU).liveBytes();
        for (Int8Backward.BackwardMatmuls mode : new Int8Backward.BackwardMatmuls[] {Int8Backward.BackwardMatmuls.INT8_INPUT,
                Int8Backward.BackwardMatmuls.INT8}) {
            TrainBench.Options o = new TrainBench.Options(TrainBench.Shape.TINY, Device.CPU, UpdatePolicy.FUSED_PER_LAYER, 2, 32, 1, 1, 1,
                    DeviceLlama.Recompute.SEGMENTS, mode, Fp32Math.FP32, OutlierProducts.INT8, 5);
            Map<String, Object> r = TrainBench.run(o);
            assertEquals(mode.label(), r.get("backward"));
            assertEquals("int8", r.get("outliers"));
            double loss = (Double) r.get("final_loss");
            assertTrue(Math.abs(loss - Math.log(512)) < 0.5, mode + ": random weights and tokens: loss near ln(512), got " + loss);
        }
        assertEquals(liveBefore, MemoryStats.of(Device.CPU).liveBytes(), "native memory left after the bench");
    }

    /** TF32 fp32 products (the CPU rounds operands as the tensor cores do) run, report themselves and free everything. */
    @Test
    void tf32MathRunsWithoutLeaks() {
        long liveBefore = MemoryStats.of(Device.CPU).liveBytes();
        TrainBench.Options o = new TrainBench.Options(TrainBench.Shape.TINY, Device.CPU, UpdatePolicy.FUSED_PER_LAYER, 2, 32, 1, 1, 1,
                DeviceLlama.Recompute.SEGMENTS, Int8Backward.BackwardMatmuls.FP32, Fp32Math.TF32, OutlierProducts.FP32_SPARSE, 5);
        Map<String, Object> r = TrainBench.run(o);
        assertEquals("tf32", r.get("fp32_math"));
        double loss = (Double) r.get("final_loss");
        assertTrue(Math.abs(loss - Math.log(512)) < 0.5, "random weights and tokens: loss near ln(512), got " + loss);
        assertEquals(liveBefore, MemoryStats.of(Device.CPU).liveBytes(), "native memory left after the bench");
    }

    /**
     * The configuration {@code bench/gpu-host/run.sh train} measures (fused policy, segment recomputation, INT8
     * backward, TF32 fp32 products, INT8 outlier products) trains on the GPU as on the CPU and frees everything.
     */
    @Test
    @GpuTest
    void gpuBenchConfigurationFollowsTheCpu() {
        Device gpu = Gpus.require();
        long liveBefore = MemoryStats.of(gpu).liveBytes();
        double[] loss = new double[2];
        Device[] devices = {Device.CPU, gpu};
        for (int i = 0; i < 2; i++) {
            TrainBench.Options o = new TrainBench.Options(TrainBench.Shape.TINY, devices[i], UpdatePolicy.FUSED_PER_LAYER, 2, 32, 1, 2, 1,
                    DeviceLlama.Recompute.SEGMENTS, Int8Backward.BackwardMatmuls.INT8, Fp32Math.TF32, OutlierProducts.INT8, 5);
            Map<String, Object> r = TrainBench.run(o);
            assertEquals(true, r.get("fits"), r.toString());
            loss[i] = (Double) r.get("final_loss");
        }
        // Three steps from the same weights and tokens: only the sum orders of the two backends differ.
        assertEquals(loss[0], loss[1], 2e-3, "final loss, cpu vs " + gpu);
        assertEquals(liveBefore, MemoryStats.of(gpu).liveBytes(), "device memory left after the bench");
    }

    @Test
    void flopsPerTokenCountsMatricesAndAttention() {
        LlamaConfig c = TrainBench.Shape.B7.config(2048);
        // LLaMA-2-7B: 6.74e9 parameters, of which 0.131e9 are the embedding and 0.27e6 the norms.
        double matmul = c.parameterCount() - (double) c.vocabSize() * c.dim() - (2L * c.nLayers() + 1) * c.dim();
        assertEquals(6 * matmul + 12.0 * 32 * 4096 * 2048, TrainBench.flopsPerToken(c, 2048), 1.0);
    }

    @Test
    void randomRowsDoNotDependOnReadOrder() {
        RandomMatrix a = new RandomMatrix(300, 200, 9, 0.02f), b = new RandomMatrix(300, 200, 9, 0.02f);
        float[] inOrder = new float[300 * 200], lastFirst = new float[200];
        for (int r = 0; r < 300; r++) a.row(r, inOrder, r * 200);
        b.row(299, lastFirst, 0);
        assertArrayEquals(java.util.Arrays.copyOfRange(inOrder, 299 * 200, 300 * 200), lastFirst);
        double sum = 0, sq = 0;
        for (float v : inOrder) {
            sum += v;
            sq += v * v;
        }
        double mean = sum / inOrder.length, std = Math.sqrt(sq / inOrder.length - mean * mean);
        assertEquals(0, mean, 3e-4);
        assertEquals(0.02, std, 3e-4);
        assertThrows(UnsupportedOperationException.class, () -> a.matmul(new float[200], 1, new float[300]));
    }

    /** The largest matrix (a block's FFN matrix or the vocabulary's), per parameter of the model. */
    private static double stagedParams() {
        LlamaConfig c = TrainBench.Shape.TINY.config(32);
        return Math.max((double) c.dim() * Math.max(c.dim(), c.hiddenDim()), (double) c.vocabSize() * c.dim()) / c.parameterCount();
    }
}
