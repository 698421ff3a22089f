package org.qft4j.bench;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.train.ClipMode;
import org.qft4j.train.EvalMetrics;
import org.qft4j.train.OptimizerKind;
import org.qft4j.train.Sequence;
import org.qft4j.train.StepMetrics;
import org.qft4j.train.TokenFile;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.TrainListener;
import org.qft4j.train.Trainer;
import org.qft4j.train.TrainingData;

/**
 * The CPU stand-in of the GPU loss-curve comparison ({@link LossCurve}): the CPU {@link Trainer} (AVX-512 engine; the
 * device engine's CPU ops are plain references, ~35 tokens/s at the small shape, too slow for a curve on 2 cores)
 * trains the same random-weight model on the same token files with QFT (every matrix hybrid INT8 with INT8 gradients
 * and INT8 Lion momentum, norms fp32), fp32 AdamW or fp32 Lion. The runs share the seed, so the Trainer's loader
 * deals them the same windows in the same order (non-overlapping seq-token windows, shuffled per epoch by its seed),
 * and validation is the first valWindows windows of the validation file. Each run writes the JSONL of
 * {@link LossCurve} ({@code {"step", "loss", "lr"[, "val_loss"]}}; the line of step 0 holds only the validation
 * before training) and main prints one summary JSON line per run.
 *
 * <pre>
 * java ... org.qft4j.bench.CpuLossCurve --tokens train.i32 --val-tokens val.i32 --out DIR --model small --batch 4 --seq 256 --steps 300
 *     [--runs qft,fp32-adamw,fp32-lion --lr-adamw 6e-4 --lr-lion 1e-4 --wd-adamw 0.1 --wd-lion 0.6 --lr-warmup 30 --min-lr-fraction 0.1
 *      --eval-every 25 --val-windows 16 --seed 1]
 * </pre>
 */
public final class CpuLossCurve {
    private CpuLossCurve() {}

    public static void main(String[] args) throws IOException {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--model", "small", "--batch", "4", "--seq", "256", "--steps", "300",
                "--runs", "qft,fp32-adamw,fp32-lion", "--lr-adamw", "6e-4", "--lr-lion", "1e-4", "--wd-adamw", "0.1", "--wd-lion", "0.6"));
        a.putAll(Map.of("--lr-warmup", "30", "--min-lr-fraction", "0.1", "--eval-every", "25", "--val-windows", "16", "--seed", "1"));
        for (int i = 0; i < args.length; i += 2) {
            if (i + 1 >= args.length) throw new IllegalArgumentException("CpuLossCurve: " + args[i] + " needs a value");
            if (!a.containsKey(args[i]) && !List.of("--tokens", "--val-tokens", "--out").contains(args[i]))
                throw new IllegalArgumentException("CpuLossCurve: unknown option " + args[i]);
            a.put(args[i], args[i + 1]);
        }
        if (!a.containsKey("--tokens") || !a.containsKey("--val-tokens") || !a.containsKey("--out"))
            throw new IllegalArgumentException("CpuLossCurve: --tokens, --val-tokens and --out are required");
        TrainBench.Shape shape = TrainBench.Shape.parse(a.get("--model"));
        int seq = Integer.parseInt(a.get("--seq"));
        Path out = Files.createDirectories(Path.of(a.get("--out")));
        for (String run : a.get("--runs").split(",")) {
            boolean adamw = run.equals("fp32-adamw");
            OptimizerKind kind = switch (run) {
                case "qft" -> OptimizerKind.QFT_LION;
                case "fp32-adamw" -> OptimizerKind.FP32_ADAMW;
                case "fp32-lion" -> OptimizerKind.FP32_LION;
                default -> throw new IllegalArgumentException("CpuLossCurve: --runs takes qft, fp32-adamw, fp32-lion; got " + run);
            };
            TrainConfig c = TrainConfig.builder().optimizer(kind).learningRate(Double.parseDouble(a.get(adamw ? "--lr-adamw" : "--lr-lion")))
                    .betas(0.9, adamw ? 0.95 : 0.99).weightDecay(Double.parseDouble(a.get(adamw ? "--wd-adamw" : "--wd-lion")))
                    .clip(ClipMode.GLOBAL_NORM, 1.0).steps(Integer.parseInt(a.get("--steps"))).warmupSteps(Integer.parseInt(a.get("--lr-warmup")))
                    .minLrFraction(Double.parseDouble(a.get("--min-lr-fraction"))).batchSize(Integer.parseInt(a.get("--batch"))).seqLen(seq)
                    .evalInterval(Integer.parseInt(a.get("--eval-every"))).evalSequences(Integer.parseInt(a.get("--val-windows")))
                    .seed(Long.parseLong(a.get("--seed"))).build();
            Map<String, Object> r = run(shape, c, Path.of(a.get("--tokens")), Path.of(a.get("--val-tokens")), out.resolve(run + ".jsonl"));
            r.put("run", run);
            System.out.println(TrainBench.json(r));
        }
    }

    /** One run of config c (its evalSequences: the validation windows); writes log; returns the summary. */
    public static Map<String, Object> run(TrainBench.Shape shape, TrainConfig c, Path tokens, Path valTokens, Path log) {
        LlamaConfig cfg = shape.config(c.seqLen);
        List<Sequence> train, val;
        try {
            int[] t = TokenFile.read(tokens, cfg.vocabSize()), v = TokenFile.read(valTokens, cfg.vocabSize());
            train = TrainingData.windows(t, t.length, c.seqLen);
            val = TrainingData.windows(v, v.length, c.seqLen);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the token files " + tokens + ", " + valTokens, e);
        }
        if (c.evalSequences > val.size())
            throw new IllegalArgumentException("CpuLossCurve: " + c.evalSequences + " validation windows of seq " + c.seqLen + " requested, " + valTokens + " holds " + val.size());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", shape.label);
        r.put("optimizer", c.optimizer.name());
        r.put("batch", c.batchSize);
        r.put("seq", c.seqLen);
        r.put("steps", c.steps);
        r.put("lr", c.learningRate);
        r.put("weight_decay", c.weightDecay);
        r.put("params", cfg.parameterCount());
        try (BufferedWriter w = Files.newBufferedWriter(log);
             Trainer t = new Trainer(c, TrainBench.randomWeights(cfg, c.seed), new TrainingData.Split(train, val.subList(0, c.evalSequences)))) {
            Log l = new Log(w);
            t.addListener(l);
            long t0 = System.nanoTime();
            t.run();
            l.flush();
            double seconds = (System.nanoTime() - t0) * 1e-9;
            int tail = Math.min(50, l.losses.size());
            r.put("final_loss", TrainBench.round(l.losses.get(l.losses.size() - 1), 4));
            r.put("mean_loss_last_" + tail, TrainBench.round(l.losses.subList(l.losses.size() - tail, l.losses.size()).stream()
                    .mapToDouble(d -> d).average().orElseThrow(), 4));
            r.put("final_val_loss", TrainBench.round(l.lastVal, 4));
            r.put("seconds", TrainBench.round(seconds, 1));
            r.put("tokens_per_s", TrainBench.round((double) c.steps * c.batchSize * c.seqLen / seconds, 1));
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + log, e);
        }
        r.put("log", log.toString());
        return r;
    }

    /** Writes a step's line once its validation (if any, same step) has been seen: at the next step or at the end. */
    private static final class Log implements TrainListener {
        final BufferedWriter w;
        final List<Double> losses = new ArrayList<>();
        String pending;
        double lastVal = Double.NaN;

        Log(BufferedWriter w) { this.w = w; }

        @Override
        public void step(StepMetrics m) {
            flush();
            losses.add(m.loss());
            pending = String.format(Locale.ROOT, "{\"step\": %d, \"loss\": %s, \"lr\": %s", m.step(), num(m.loss()), num(m.lr()));
            System.err.printf(Locale.ROOT, "step %d/%d: loss %.4f, %.0f tokens/s%n", m.step(), m.steps(), m.loss(), m.tokensPerSecond());
        }

        @Override
        public void evaluated(EvalMetrics m) {
            lastVal = m.loss();
            if (pending == null) pending = "{\"step\": " + m.step();
            pending += ", \"val_loss\": " + num(m.loss());
            flush();
        }

        static String num(double v) {
            return Double.isFinite(v) ? Double.toString(v) : "null";
        }

        void flush() {
            if (pending == null) return;
            try {
                w.write(pending + "}\n");
                w.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            pending = null;
        }
    }
}
