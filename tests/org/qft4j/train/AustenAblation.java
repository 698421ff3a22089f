package org.qft4j.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;

/**
 * Where QFT's gap comes from (run by hand, after {@link AustenExperiment} has cached the tokens): the Austen run
 * of AustenExperiment with one part of the training state quantized at a time, built from the trainer's own parts
 * in the trainer's loop order (same seed, batches, schedule and global clipping).
 * Variants: {@code grad} INT8 gradients (per-row scales, stochastic rounding) with fp32 weights and fp32 Lion
 * momentum; {@code none} nothing quantized (fp32 Lion through the same loop, the control).
 * Usage: {@code java -cp ... org.qft4j.train.AustenAblation SHARED STEPS BATCH SEQ EVAL_SEQS variant:lr ...}
 */
public final class AustenAblation {
    public static void main(String[] a) throws Exception {
        Path shared = Path.of(a[0]);
        int steps = Integer.parseInt(a[1]), batch = Integer.parseInt(a[2]), seq = Integer.parseInt(a[3]), evalSeqs = Integer.parseInt(a[4]);
        List<Sequence> tr = AustenExperiment.cached(Path.of("target/austen-train-" + seq + ".tokens"), () -> {
            throw new IllegalStateException("run AustenExperiment first: it tokenizes and caches the novels");
        });
        List<Sequence> val = AustenExperiment.cached(Path.of("target/austen-persuasion-" + seq + ".tokens"), () -> {
            throw new IllegalStateException("run AustenExperiment first");
        });
        List<Sequence> valSample = new ArrayList<>();
        for (int i = 0; i < evalSeqs; i++) valSample.add(val.get((int) ((long) i * val.size() / evalSeqs)));
        LlamaWeights base = ModelLoader.load(shared.resolve("models/stories260K/stories260K.bin"));
        for (int k = 5; k < a.length; k++) {
            String[] m = a[k].split(":");
            double lr = Double.parseDouble(m[1]);
            boolean int8Grad = switch (m[0]) {
                case "grad" -> true;
                case "none" -> false;
                default -> throw new IllegalArgumentException(m[0]);
            };
            TrainConfig c = TrainConfig.builder().optimizer(OptimizerKind.FP32_LION).learningRate(lr).steps(steps)
                    .warmupSteps(Math.max(1, steps / 10)).batchSize(batch).seqLen(seq).clip(ClipMode.GLOBAL_NORM, 1.0).seed(1).build();
            long s = System.nanoTime();
            double before, after;
            try (ParameterSet params = ParameterSet.of(c)) {
                TrainableLlama model = new TrainableLlama(base, params, c.batchSize, c.seqLen);
                try (TrainOptimizer opt = TrainOptimizer.of(c, params)) {
                    GradientQuantizer q = new GradientQuantizer(int8Grad, c.fp32Below, c.rounding, c.seed);
                    GradientPolicy policy = GradientPolicy.of(c, params.tensors().size(), q, opt);
                    BatchSampler sampler = new BatchSampler(tr, c.seed);
                    LrSchedule schedule = LrSchedule.of(c);
                    before = evaluate(model, valSample, batch);
                    for (int step = 1; step <= steps; step++) {
                        opt.beginStep(step);
                        policy.begin(schedule.at(step));
                        params.route(policy);
                        model.run(sampler.next(batch), true);
                        params.route(null);
                        policy.finish();
                    }
                    after = evaluate(model, valSample, batch);
                }
            }
            System.out.printf(Locale.ROOT, "ablation %-5s lr %.1e: persuasion perplexity %.4f -> %.4f, %.0f s%n",
                    m[0], lr, Math.exp(before), Math.exp(after), (System.nanoTime() - s) / 1e9);
        }
    }

    private static double evaluate(TrainableLlama model, List<Sequence> val, int batch) {
        TrainableLlama.Loss loss = new TrainableLlama.Loss(0, 0);
        for (int i = 0; i < val.size(); i += batch) loss = loss.plus(model.run(val.subList(i, Math.min(val.size(), i + batch)), false));
        return loss.mean();
    }
}
