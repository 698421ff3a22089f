package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.RopeLayout;
import org.qft4j.tensor.MemoryStats;

/**
 * Persistent training bytes per parameter, measured from what is allocated, for QFT with each update policy and for
 * the fp32 baselines, on the stories260K architecture (random weights, so the test needs no shared files). The
 * trainer's parts are built as {@link Trainer} builds them: native bytes are MemoryStats deltas around each part;
 * Java bytes are the lengths of the primitive arrays the parts hold (fp32 tensors, optimizer fields, the stashed
 * gradients). "Engine buffers" are the CPU engine's fp32 working images and dW accumulators, which the GPU path
 * does not keep (it dequantizes inside the matmul); they are reported apart from the training state.
 */
class BytesPerParameterTest {
    static final LlamaConfig STORIES_260K = new LlamaConfig(64, 172, 5, 8, 4, 512, 512, 1e-5f, 10000f, RopeLayout.ADJACENT_PAIRS, true);

    record Row(String name, long params, long weights, long optimizer, long gradients, long engine, MemoryReport reported) {
        double perParam(long b) {
            return (double) b / params;
        }

        double state() {
            return perParam(weights + optimizer + gradients);
        }
    }

    @Test
    void bytesPerParameterByPolicy() {
        LlamaWeights w = LlamaWeights.random(STORIES_260K, 5, 0.05f);
        List<Sequence> data = sequences(STORIES_260K.vocabSize(), 8, 64);
        TrainConfig base = TrainConfig.builder().batchSize(8).seqLen(64).learningRate(1e-4).build();
        List<Row> rows = new ArrayList<>();
        rows.add(measure("QFT STASH", base.toBuilder().optimizer(OptimizerKind.QFT_LION).build(), w, data));
        rows.add(measure("QFT FUSED_PER_LAYER", base.toBuilder().optimizer(OptimizerKind.QFT_LION)
                .updatePolicy(UpdatePolicy.FUSED_PER_LAYER).clip(ClipMode.PER_TENSOR_NORM, 1.0).build(), w, data));
        rows.add(measure("fp32 Lion", base.toBuilder().optimizer(OptimizerKind.FP32_LION).build(), w, data));
        rows.add(measure("fp32 AdamW", base.toBuilder().optimizer(OptimizerKind.FP32_ADAMW).build(), w, data));

        System.out.printf(Locale.ROOT, "%-20s %9s %9s %9s %9s %9s | %s%n", "bytes/parameter", "weights", "optimizer", "gradients", "STATE", "engine", "reference");
        for (Row r : rows)
            System.out.printf(Locale.ROOT, "%-20s %9.3f %9.3f %9.3f %9.3f %9.3f | %s%n", r.name, r.perParam(r.weights), r.perParam(r.optimizer),
                    r.perParam(r.gradients), r.state(), r.perParam(r.engine), r.name.contains("AdamW") ? "fp32 AdamW: 4+4+4+4 = 16" : "");

        for (Row r : rows) {
            // What the trainer reports must be what was allocated.
            assertEquals(r.reported.weightBytes(), r.weights, r.name + " weights");
            assertEquals(r.reported.optimizerBytes(), r.optimizer, 64 + 8.0 * 64, r.name + " optimizer (AdamW's per-tensor update counters aside)");
            assertEquals(r.reported.gradientBytes(), r.gradients, r.name + " gradients");
        }
        Row stash = rows.get(0), fused = rows.get(1), lion = rows.get(2), adamw = rows.get(3);
        // INT8 weights (1) + per-row scales + 1% outliers, INT8 momentum (1), INT8 gradients (1); norms in fp32.
        assertTrue(stash.state() > 3.0 && stash.state() < 3.5, "QFT STASH state " + stash.state());
        assertTrue(fused.state() < stash.state() - 0.8, "FUSED keeps one gradient at a time: " + fused.state());
        assertTrue(fused.perParam(fused.gradients) < 0.2, "FUSED gradient peak is the largest tensor's " + fused.perParam(fused.gradients));
        assertEquals(12.0, lion.state(), 0.01, "fp32 Lion: weights, momentum, gradients");
        assertEquals(16.0, adamw.state(), 0.01, "fp32 AdamW: weights, two moments, gradients");
        assertTrue(adamw.state() / stash.state() > 4.5, "QFT state is a fraction of AdamW's");
    }

    private static Row measure(String name, TrainConfig c, LlamaWeights w, List<Sequence> data) {
        long n0 = nativeLive();
        ParameterSet params = ParameterSet.of(c);
        try (params) {
            TrainableLlama model = new TrainableLlama(w, params, c.batchSize, c.seqLen);
            long weights = nativeLive() - n0;
            long engine = 0;
            for (TrainableTensor t : params.tensors()) {
                if (t instanceof Fp32Tensor) weights += 4L * t.weights().length;
                else engine += 4L * t.work.weights().length; // the dequantized image the CPU matmul reads
                engine += 4L * t.work.gradient().length;     // the fp32 dW backward accumulates into
            }
            long n1 = nativeLive();
            try (TrainOptimizer opt = TrainOptimizer.of(c, params)) {
                long optimizer = nativeLive() - n1 + javaArrayBytes(opt);
                GradientQuantizer q = new GradientQuantizer(c.optimizer == OptimizerKind.QFT_LION, c.fp32Below, c.rounding, c.seed);
                GradientPolicy policy = GradientPolicy.of(c, params.tensors().size(), q, opt);
                long gradients = 0;
                for (int step = 1; step <= 2; step++) {
                    opt.beginStep(step);
                    policy.begin(c.learningRate);
                    params.route(policy);
                    model.run(data, true);
                    params.route(null);
                    gradients = Math.max(gradients, stashedBytes(policy));
                    policy.finish();
                }
                if (policy instanceof FusedPerLayerPolicy f) gradients = f.peakBytes();
                long stack = policy instanceof StashPolicy s ? s.stack().peakBytes() : ((FusedPerLayerPolicy) policy).peakBytes();
                MemoryReport reported = new MemoryReport(params.parameterCount(), params.weightBytes(), opt.stateBytes(), stack);
                return new Row(name, params.parameterCount(), weights, optimizer, gradients, engine, reported);
            }
        }
    }

    /** Bytes of the gradient arrays waiting on the stash (measured from the arrays themselves). */
    private static long stashedBytes(GradientPolicy p) {
        if (!(p instanceof StashPolicy s)) return 0;
        long b = 0;
        for (int i = 0; i < s.stack().size(); i++) {
            Gradient g = s.stack().get(i);
            b += g.isInt8() ? g.codes().length + 4L * g.scales().length : 4L * g.values().length;
        }
        return b;
    }

    /** Bytes of the primitive arrays (and arrays of them) in o's instance fields. */
    static long javaArrayBytes(Object o) {
        long b = 0;
        for (Field f : o.getClass().getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) || !f.getType().isArray()) continue;
            f.setAccessible(true);
            try {
                b += arrayBytes(f.get(o));
            } catch (IllegalAccessException e) {
                throw new AssertionError(e);
            }
        }
        return b;
    }

    private static long arrayBytes(Object a) {
        if (a instanceof float[] f) return 4L * f.length;
        if (a instanceof int[] i) return 4L * i.length;
        if (a instanceof long[] l) return 8L * l.length;
        if (a instanceof byte[] y) return y.length;
        long b = 0;
        if (a instanceof Object[] arr) for (Object e : arr) b += arrayBytes(e); // nested arrays; other objects count 0
        return b;
    }

    static long nativeLive() {
        return MemoryStats.of(Device.CPU).liveBytes();
    }

    static List<Sequence> sequences(int vocab, int n, int len) {
        Random r = new Random(3);
        List<Sequence> out = new ArrayList<>();
        for (int s = 0; s < n; s++) {
            int[] t = new int[len + 1];
            for (int i = 0; i < t.length; i++) t[i] = r.nextInt(vocab);
            out.add(Sequence.window(t, 0, len));
        }
        return out;
    }
}
