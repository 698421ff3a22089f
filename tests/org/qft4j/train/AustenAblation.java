package org.qft4j.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.qft.Rounding;

/**
 * Where QFT's gap comes from (run by hand, after {@link AustenExperiment} has cached the tokens): the Austen run
 * of AustenExperiment with each part of QFT's training state quantized or not, built from the trainer's own parts
 * ({@link ParameterSet}, {@link GradientQuantizer}, {@link GradientPolicy}, {@link BatchSampler}, {@link LrSchedule})
 * in the trainer's loop order, stepped by {@link AblationLion}.
 * Variant {@code PARTS:LR[:option=value...]}: PARTS names the INT8 parts, any of {@code w} (hybrid INT8 weights,
 * the native fused step, weight rounding {@code round=weyl|sr|rtn}, default weyl as in the trainer), {@code m} (INT8
 * momentum, per-row scales, round to nearest keeping signs), {@code g} (INT8 gradients, per-row scales, stochastic
 * rounding), or {@code none} (fp32 Lion through the same loop, the control); {@code wmg} is QFT as the trainer runs
 * it. Options: {@code seed=N}, {@code outliers=F}, {@code reselect=N}, {@code fp32below=N} as in AustenExperiment;
 * {@code evalq=1} also evaluates the trained fp32 weights after quantizing them to hybrid INT8 (round to nearest).
 * Usage: {@code java -cp target/test-classes:target/classes:$(cat target/jmh.classpath) org.qft4j.train.AustenAblation
 * ../shared 40 8 128 64 none:2e-3 g:2e-3 w:2e-3:round=sr m:2e-3 wm:2e-3:round=sr wmg:2e-3:round=sr none:2e-3:evalq=1}
 * (the ablation table of bench/results/austen-quality.md).
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
            String parts = m[0].equals("none") ? "" : m[0];
            if (!parts.matches("[wmg]*")) throw new IllegalArgumentException("parts must be 'none' or letters of wmg, got " + m[0]);
            boolean int8Weights = parts.contains("w"), int8Momentum = parts.contains("m"), int8Grad = parts.contains("g");
            TrainConfig.Builder b = TrainConfig.builder().optimizer(OptimizerKind.QFT_LION).learningRate(lr).steps(steps)
                    .warmupSteps(Math.max(1, steps / 10)).batchSize(batch).seqLen(seq).clip(ClipMode.GLOBAL_NORM, 1.0).seed(1);
            boolean evalQuantized = false;
            for (int o = 2; o < m.length; o++) {
                String[] kv = m[o].split("=");
                switch (kv[0]) {
                    case "outliers" -> b.outlierFraction(Double.parseDouble(kv[1]));
                    case "reselect" -> b.outlierReselectInterval(Integer.parseInt(kv[1]));
                    case "fp32below" -> b.fp32Below(Integer.parseInt(kv[1]));
                    case "seed" -> b.seed(Long.parseLong(kv[1]));
                    case "round" -> b.rounding(switch (kv[1]) {
                        case "sr" -> Rounding.STOCHASTIC;
                        case "rtn" -> Rounding.NEAREST;
                        case "weyl" -> Rounding.STOCHASTIC_WEYL;
                        default -> throw new IllegalArgumentException("round must be sr|rtn|weyl, got " + kv[1]);
                    });
                    case "evalq" -> evalQuantized = Integer.parseInt(kv[1]) != 0;
                    default -> throw new IllegalArgumentException("unknown option " + m[o]);
                }
            }
            TrainConfig c = b.build();
            long s = System.nanoTime();
            double before, after, afterQuantized = Double.NaN;
            try (ParameterSet params = new ParameterSet(int8Weights, c.fp32Below, c.outlierFraction)) {
                TrainableLlama model = new TrainableLlama(base, params, c.batchSize, c.seqLen);
                try (AblationLion opt = new AblationLion(params.tensors(), c, int8Momentum)) {
                    GradientQuantizer q = new GradientQuantizer(int8Grad, c.fp32Below, c.rounding, c.seed);
                    GradientPolicy policy = GradientPolicy.of(c, params.tensors().size(), q, opt);
                    BatchSampler sampler = new BatchSampler(tr, c.seed);
                    LrSchedule schedule = LrSchedule.of(c);
                    before = evaluate(model, valSample, batch);
                    for (int step = 1; step <= steps; step++) {
                        q.beginStep(step);
                        opt.beginStep(step);
                        policy.begin(schedule.at(step));
                        params.route(policy);
                        model.run(sampler.next(batch), true);
                        params.route(null);
                        policy.finish();
                    }
                    after = evaluate(model, valSample, batch);
                    if (evalQuantized) {
                        quantizeFp32Weights(params, c);
                        afterQuantized = evaluate(model, valSample, batch);
                    }
                }
            }
            System.out.printf(Locale.ROOT, "ablation %-5s lr %.1e %s: persuasion perplexity %.4f -> %.4f%s, %.0f s%n",
                    m[0], lr, String.join(":", java.util.Arrays.copyOfRange(m, 2, m.length)), Math.exp(before), Math.exp(after),
                    evalQuantized ? String.format(Locale.ROOT, " (%.4f with the weights then quantized to hybrid INT8)", Math.exp(afterQuantized)) : "",
                    (System.nanoTime() - s) / 1e9);
        }
    }

    /**
     * Replaces the fp32 weights of the matrices QFT would quantize by their hybrid INT8 image (round to nearest):
     * what the fp32-trained model loses by being stored as QFT stores weights.
     */
    private static void quantizeFp32Weights(ParameterSet params, TrainConfig c) {
        for (TrainableTensor t : params.tensors()) {
            if (!(t instanceof Fp32Tensor) || t.numel() < c.fp32Below || t.rows < 2) continue;
            try (HybridWeight h = HybridWeight.quantize(t.weights(), t.rows, t.cols, HybridConfig.outliers(c.outlierFraction))) {
                h.dequantize(t.weights());
            }
        }
    }

    private static double evaluate(TrainableLlama model, List<Sequence> val, int batch) {
        TrainableLlama.Loss loss = new TrainableLlama.Loss(0, 0);
        for (int i = 0; i < val.size(); i += batch) loss = loss.plus(model.run(val.subList(i, Math.min(val.size(), i + batch)), false));
        return loss.mean();
    }
}
