package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.qft4j.llama.LlamaWeights;

/**
 * PEQA's trainable parameters and persistent training bytes, measured from what is allocated (as
 * {@link BytesPerParameterTest} does for QFT and the fp32 baselines), on the stories260K architecture: native bytes
 * are MemoryStats deltas, Java bytes the lengths of the arrays the parts hold. Reported per trainable scale and per
 * model parameter (all 260,032 weights, frozen ones included), against fp32 AdamW's 16 bytes per parameter.
 */
class PeqaBytesPerParameterTest {
    @Test
    void scalesAreTheOnlyTrainableParametersAndTheStateIsAFractionOfAdamWs() {
        LlamaWeights w = LlamaWeights.random(BytesPerParameterTest.STORIES_260K, 5, 0.05f);
        List<Sequence> data = BytesPerParameterTest.sequences(BytesPerParameterTest.STORIES_260K.vocabSize(), 8, 64);
        long modelParams = BytesPerParameterTest.STORIES_260K.parameterCount();
        System.out.printf(Locale.ROOT, "%-16s %9s | %-45s | %s%n", "PEQA", "trainable", "bytes per trainable scale: optimizer grads",
                "bytes per model parameter: weights optimizer grads = state (engine)");
        for (int[] layout : new int[][] {{4, 128}, {4, 32}, {3, 128}, {4, TrainConfig.PER_CHANNEL}}) {
            TrainConfig c = TrainConfig.builder().optimizer(OptimizerKind.PEQA_ADAMW).bits(layout[0]).groupSize(layout[1])
                    .batchSize(8).seqLen(64).learningRate(1e-3).build();
            long n0 = BytesPerParameterTest.nativeLive();
            try (ParameterSet params = ParameterSet.of(c)) {
                TrainableLlama model = new TrainableLlama(w, params, c.batchSize, c.seqLen);
                long nativeBytes = BytesPerParameterTest.nativeLive() - n0;
                long scales = 0, packed = 0, heapScales = 0, engine = 0;
                for (TrainableTensor t : params.tensors()) {
                    PeqaTensor p = (PeqaTensor) t;
                    scales += t.numel();
                    packed += p.matrix().weight().bytes();
                    heapScales += 4L * t.weights().length;
                    engine += 4L * t.work.gradient().length; // the host copy of a pass's scale gradient
                }
                // Native: packed codes, device scales, zero-points, plus each matrix's device gradient accumulator and its 1-float constant.
                assertEquals(packed + 4 * scales + 4L * params.tensors().size(), nativeBytes, "native bytes of the PEQA matrices");
                engine += 4 * scales + 4L * params.tensors().size();
                engine += 4L * w.tokenEmbedding.rows() * w.tokenEmbedding.cols(); // the frozen embedding's Fp32Matrix keeps an unused dW array
                long frozen = 4L * w.tokenEmbedding.rows() * w.tokenEmbedding.cols() + 4L * (2L * w.layers.length + 1) * w.config.dim();
                long weights = packed + heapScales + frozen;
                assertEquals(weights, params.weightBytes(), "reported weight bytes: packed, master scales, frozen embedding and norms");
                assertEquals(modelParams, frozen / 4 + blockWeights(w), "every model parameter is either frozen or packed");

                try (TrainOptimizer opt = TrainOptimizer.of(c, params)) {
                    long optimizer = BytesPerParameterTest.javaArrayBytes(opt);
                    GradientQuantizer q = new GradientQuantizer(false, c.fp32Below, c.rounding, c.seed);
                    StashPolicy policy = (StashPolicy) GradientPolicy.of(c, params.tensors().size(), q, opt);
                    opt.beginStep(1);
                    policy.begin(c.learningRate);
                    params.route(policy);
                    model.run(data, true);
                    params.route(null);
                    long gradients = policy.stack().bytes();
                    policy.finish();
                    assertEquals(scales, params.parameterCount(), "trainable parameters: the scales");
                    assertEquals(4 * scales, gradients, "an fp32 gradient per scale");
                    assertEquals(8 * scales + 8L * params.tensors().size(), optimizer, "AdamW's two moments per scale and an update count per tensor");
                    assertEquals(opt.stateBytes(), 8 * scales, "reported optimizer bytes");
                    double state = (double) (weights + optimizer + gradients) / modelParams;
                    System.out.printf(Locale.ROOT, "%d-bit %-10s %9d | %22.3f %9.3f            | %7.3f %9.3f %5.3f = %.3f (%.3f) vs fp32 AdamW 16%n",
                            layout[0], layout[1] == 0 ? "channel" : "g" + layout[1], scales, (double) optimizer / scales, (double) gradients / scales,
                            (double) weights / modelParams, (double) optimizer / modelParams, (double) gradients / modelParams, state,
                            (double) engine / modelParams);
                    assertTrue(state < 2, "PEQA's state per model parameter " + state + " (frozen fp32 embedding included)");
                    double packedPerWeight = (double) packed / blockWeights(w);
                    assertTrue(packedPerWeight < layout[0] / 8.0 + 0.2, layout[0] + "-bit codes with scales: " + packedPerWeight + " bytes per block weight");
                }
            }
        }
    }

    private static long blockWeights(LlamaWeights w) {
        var c = w.config;
        return (long) c.nLayers() * (2L * c.dim() * c.dim() + 2L * c.kvDim() * c.dim() + 3L * c.hiddenDim() * c.dim());
    }
}
