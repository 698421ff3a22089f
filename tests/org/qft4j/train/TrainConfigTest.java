package org.qft4j.train;

import org.qft4j.qft.Rounding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class TrainConfigTest {
    @Test
    void betasDefaultToTheOptimizersUsualValuesAndExplicitOnesWin() {
        assertEquals(0.99, TrainConfig.builder().build().beta2);
        assertEquals(0.999, TrainConfig.builder().optimizer(OptimizerKind.FP32_ADAMW).build().beta2);
        TrainConfig c = TrainConfig.builder().optimizer(OptimizerKind.FP32_ADAMW).betas(0.8, 0.95).build();
        assertEquals(0.8, c.beta1);
        assertEquals(0.95, c.beta2);
    }

    /** The measured default (bench/results/austen-quality.md): low-discrepancy draws; the other modes stay selectable. */
    @Test
    void weightRoundingDefaultsToWeylDraws() {
        assertEquals(Rounding.STOCHASTIC_WEYL, TrainConfig.builder().build().rounding);
        assertEquals(Rounding.STOCHASTIC, TrainConfig.builder().rounding(Rounding.STOCHASTIC).build().rounding);
    }

    @Test
    void toBuilderCopiesEverySettingAndTheCopyIsIndependent() {
        TrainConfig a = TrainConfig.builder().model(Path.of("m.bin")).trainData(Path.of("d")).learningRate(3e-4).steps(7)
                .warmupSteps(2).batchSize(3).gradAccumulation(2).seqLen(16).rounding(Rounding.NEAREST).seed(9)
                .clip(ClipMode.PER_TENSOR_NORM, 0.5).outputDir(Path.of("out")).checkpointInterval(3).build();
        TrainConfig b = a.toBuilder().build();
        assertEquals(a.toString(), b.toString());
        assertEquals(a.trainData, b.trainData);
        assertEquals(a.outputDir, b.outputDir);
        assertEquals(a.checkpointInterval, b.checkpointInterval);
        TrainConfig c = a.toBuilder().steps(8).build();
        assertEquals(7, a.steps);
        assertEquals(8, c.steps);
        assertEquals(3L * 2 * 16, a.tokensPerStep());
    }

    @Test
    void everyInvalidSettingIsNamedWithItsValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder()
                .learningRate(-1).betas(1.0, 0.5).steps(10).warmupSteps(11).batchSize(0).seqLen(1).outlierFraction(0.7)
                .validationFraction(1.0).build());
        String m = e.getMessage();
        for (String s : new String[] {"learning rate must be > 0, got -1", "beta1 must be in [0, 1), got 1.0",
                "warmup steps must be in [0, steps=10], got 11", "batch size must be >= 1, got 0",
                "sequence length must be >= 2, got 1", "outlier fraction must be in [0, 0.5), got 0.7",
                "validation fraction must be in [0, 1), got 1.0"})
            assertTrue(m.contains(s), m);
    }

    @Test
    void fusedPerLayerRejectsWhatItCannotDo() {
        String m = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder()
                .updatePolicy(UpdatePolicy.FUSED_PER_LAYER).build()).getMessage();
        assertTrue(m.contains("FUSED_PER_LAYER updates each tensor before the global norm is known"), m);
        m = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().updatePolicy(UpdatePolicy.FUSED_PER_LAYER)
                .clip(ClipMode.PER_TENSOR_NORM, 1).gradAccumulation(4).build()).getMessage();
        assertTrue(m.contains("cannot accumulate 4 micro-batches"), m);
        TrainConfig.builder().updatePolicy(UpdatePolicy.FUSED_PER_LAYER).clip(ClipMode.PER_TENSOR_NORM, 1).build();
    }

    @Test
    void aModelNeedsDataAndCheckpointsNeedAPlace() {
        String m = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().model(Path.of("x.bin")).build()).getMessage();
        assertTrue(m.contains("training data must be given with a model"), m);
        m = assertThrows(IllegalArgumentException.class, () -> TrainConfig.builder().checkpointInterval(5).build()).getMessage();
        assertTrue(m.contains("checkpoint interval 5 needs an output directory"), m);
    }
}
