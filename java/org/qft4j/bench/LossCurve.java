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
import org.qft4j.Cuda;
import org.qft4j.Device;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.llama.device.DeviceQftTrainer;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.Int8Backward;
import org.qft4j.llama.device.OutlierProducts;
import org.qft4j.train.ClipMode;
import org.qft4j.train.LrSchedule;
import org.qft4j.train.TokenFile;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.UpdatePolicy;

/**
 * {@link TrainBench}'s token-file mode (issue 10: "loss of QFT tracks the bf16 AdamW baseline on real text"): trains
 * one shape on (batch, seq) windows of a little-endian int32 token file in {@link TokenWindows}' order, which the
 * PyTorch peer ({@code torch_peer.py --tokens}) takes identically, and writes one JSON line per step,
 * {@code {"step", "loss", "lr"}} plus {@code "val_loss"} every {@code evalEvery} steps and at the last: the mean
 * loss over the first {@code valWindows} windows of the validation file after that step's update.
 *
 * <pre>
 * java ... org.qft4j.bench.TrainBench --tokens train.i32 --val-tokens val.i32 --log qft.jsonl --model 125m --batch 8 --seq 1024 \
 *     --steps 300 [--optimizer qft|fp32-adamw|fp32-lion --lr 1e-4 --lr-warmup 30 --min-lr-fraction 0.1 --weight-decay 0.6
 *     --eval-every 25 --val-windows 16 --device cuda --policy stash --backward fp32|int8-input|int8 --fp32-math fp32|tf32 --outliers fp32-sparse|int8 --seed 1]
 * </pre>
 *
 * Optimizers: qft ({@link DeviceQftTrainer}: INT8 weights, gradients and Lion momentum), or the fp32 controls on the same
 * engine ({@link Fp32Baseline}). The schedule is {@link LrSchedule}'s linear warmup + cosine to minLrFraction * lr, which
 * the peer reproduces. Betas: Lion 0.9/0.99 (the Lion paper's), AdamW 0.9/0.95 (the peer's). Clipping: global norm 1.0
 * (qft: per tensor under the fused policy, which cannot clip globally).
 */
public final class LossCurve {
    public enum Optimizer {
        QFT("qft", "qft-lion"), FP32_ADAMW("fp32-adamw", "fp32-adamw"), FP32_LION("fp32-lion", "fp32-lion");

        final String label, mode;

        Optimizer(String label, String mode) {
            this.label = label;
            this.mode = mode;
        }

        static Optimizer parse(String s) {
            for (Optimizer o : values()) if (o.label.equals(s)) return o;
            throw new IllegalArgumentException("LossCurve: --optimizer qft|fp32-adamw|fp32-lion, got " + s);
        }
    }

    /** What to train: the token files, the log, the schedule and the evaluation. valTokens null: no validation. */
    public record Options(TrainBench.Shape shape, Device device, UpdatePolicy policy, Optimizer optimizer, int batch, int seq, int steps,
                          Path tokens, Path valTokens, Path log, double lr, int lrWarmup, double minLrFraction, double weightDecay,
                          int evalEvery, int valWindows, Int8Backward.BackwardMatmuls backward, Fp32Math fp32Math, OutlierProducts outliers, long seed) {
        public Options {
            if (shape == null || device == null || policy == null || optimizer == null || tokens == null || log == null || backward == null
                    || fp32Math == null || outliers == null)
                throw new IllegalArgumentException("LossCurve: --model, --tokens and --log are required");
            if (batch <= 0 || seq <= 0 || steps <= 0 || evalEvery <= 0 || valWindows <= 0)
                throw new IllegalArgumentException("LossCurve: batch, seq, steps, eval-every and val-windows must be positive; got batch " + batch
                        + ", seq " + seq + ", steps " + steps + ", eval-every " + evalEvery + ", val-windows " + valWindows);
            if (valWindows % batch != 0)
                throw new IllegalArgumentException("LossCurve: val-windows " + valWindows + " must be a multiple of batch " + batch
                        + " (every validation batch full, so the mean over batches is the mean over tokens, as the peer computes it)");
            if (!(lr > 0) || lrWarmup < 0 || lrWarmup > steps || !(minLrFraction >= 0 && minLrFraction <= 1) || !(weightDecay >= 0))
                throw new IllegalArgumentException("LossCurve: need lr > 0, 0 <= lr-warmup <= steps, min-lr-fraction in [0, 1], weight-decay >= 0; got lr "
                        + lr + ", lr-warmup " + lrWarmup + " of " + steps + " steps, min-lr-fraction " + minLrFraction + ", weight-decay " + weightDecay);
        }

        static Options parse(String[] args) {
            TrainBench.Shape shape = null;
            Device device = Device.CPU;
            UpdatePolicy policy = UpdatePolicy.STASH;
            Optimizer optimizer = Optimizer.QFT;
            int batch = 8, seq = 1024, steps = 300, warmup = 30, evalEvery = 25, valWindows = 16;
            Path tokens = null, valTokens = null, log = null;
            double lr = Double.NaN, minLr = 0.1, wd = Double.NaN;
            Int8Backward.BackwardMatmuls backward = Int8Backward.BackwardMatmuls.FP32;
            Fp32Math fp32Math = Fp32Math.FP32;
            OutlierProducts outliers = OutlierProducts.FP32_SPARSE;
            long seed = 1;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (i + 1 >= args.length) throw new IllegalArgumentException("LossCurve: " + a + " needs a value");
                String v = args[++i];
                switch (a) {
                    case "--model" -> shape = TrainBench.Shape.parse(v);
                    case "--device" -> device = Device.parse(v);
                    case "--policy" -> policy = TrainBench.parsePolicy(v);
                    case "--optimizer" -> optimizer = Optimizer.parse(v);
                    case "--batch" -> batch = Integer.parseInt(v);
                    case "--seq" -> seq = Integer.parseInt(v);
                    case "--steps" -> steps = Integer.parseInt(v);
                    case "--tokens" -> tokens = Path.of(v);
                    case "--val-tokens" -> valTokens = Path.of(v);
                    case "--log" -> log = Path.of(v);
                    case "--lr" -> lr = Double.parseDouble(v);
                    case "--lr-warmup" -> warmup = Integer.parseInt(v);
                    case "--min-lr-fraction" -> minLr = Double.parseDouble(v);
                    case "--weight-decay" -> wd = Double.parseDouble(v);
                    case "--eval-every" -> evalEvery = Integer.parseInt(v);
                    case "--val-windows" -> valWindows = Integer.parseInt(v);
                    case "--backward" -> backward = Int8Backward.BackwardMatmuls.parse(v);
                    case "--fp32-math" -> fp32Math = TrainBench.parseFp32Math(v);
                    case "--outliers" -> outliers = OutlierProducts.parse(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    default -> throw new IllegalArgumentException("LossCurve: unknown option " + a);
                }
            }
            // Defaults: AdamW at the peer's 6e-4 / 0.1; Lion 6x smaller lr and 6x larger decay (Lion paper, sec. 5: lr 3-10x
            // smaller, so lr * weight decay, the decoupled decay per step, stays that of AdamW).
            boolean adamw = optimizer == Optimizer.FP32_ADAMW;
            if (Double.isNaN(lr)) lr = adamw ? 6e-4 : 1e-4;
            if (Double.isNaN(wd)) wd = adamw ? 0.1 : 0.6;
            return new Options(shape, device, policy, optimizer, batch, seq, steps, tokens, valTokens, log, lr, warmup, minLr, wd, evalEvery,
                    valWindows, backward, fp32Math, outliers, seed);
        }
    }

    /** One run's step and evaluation, whatever trains it. */
    private interface Run extends AutoCloseable {
        /** Trains one step; returns {loss, lr}. */
        double[] step(int[] tokens, int[] targets, int batch, int seq);

        DeviceLlama model();

        @Override
        void close();
    }

    private LossCurve() {}

    public static void main(String[] args) {
        System.out.println(TrainBench.json(run(TrainBench.parseOrExit(Options::parse, args))));
    }

    /** Trains as o says, writing o.log; returns the summary (the keys of the JSON line main prints). */
    public static Map<String, Object> run(Options o) {
        LlamaConfig cfg = o.shape.config(o.seq);
        TokenWindows train, val = null;
        int[][] valSet = null;
        try {
            train = new TokenWindows(TokenFile.read(o.tokens, cfg.vocabSize()), o.seq, o.seed);
            if (o.valTokens != null) {
                val = new TokenWindows(TokenFile.read(o.valTokens, cfg.vocabSize()), o.seq, o.seed);
                valSet = val.firstWindows(o.valWindows);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the token files " + o.tokens + ", " + o.valTokens, e);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("impl", "qft4j");
        r.put("gpu", o.device.isCuda() ? Cuda.status().gpus().get(o.device.nativeId()).name() : "cpu");
        r.put("model", o.shape.label);
        r.put("mode", o.optimizer == Optimizer.QFT ? o.optimizer.mode + (o.policy == UpdatePolicy.FUSED_PER_LAYER ? "-fused" : "-stash") : o.optimizer.mode);
        r.put("batch", o.batch);
        r.put("seq", o.seq);
        r.put("steps", o.steps);
        r.put("lr", o.lr);
        r.put("lr_warmup", o.lrWarmup);
        r.put("min_lr_fraction", o.minLrFraction);
        r.put("weight_decay", o.weightDecay);
        r.put("train_windows", train.windows());
        r.put("val_windows", valSet == null ? 0 : o.valWindows);
        List<Double> losses = new ArrayList<>();
        double lastVal = Double.NaN;
        long t0 = System.nanoTime();
        try (Run run = open(o, cfg); BufferedWriter log = Files.newBufferedWriter(o.log)) {
            for (int s = 1; s <= o.steps; s++) {
                int[][] b = train.batch(s, o.batch);
                double[] lossLr = run.step(b[0], b[1], o.batch, o.seq);
                losses.add(lossLr[0]);
                String line = String.format(Locale.ROOT, "{\"step\": %d, \"loss\": %s, \"lr\": %s", s, num(lossLr[0]), num(lossLr[1]));
                if (valSet != null && (s % o.evalEvery == 0 || s == o.steps)) {
                    lastVal = evaluate(run.model(), valSet, o.batch, o.seq);
                    line += ", \"val_loss\": " + num(lastVal);
                }
                log.write(line + "}\n");
                log.flush();
                if (s % 10 == 0 || s == o.steps)
                    System.err.printf(Locale.ROOT, "%s %s step %d/%d: loss %.4f%s, %.1f s%n", o.shape.label, r.get("mode"), s, o.steps, lossLr[0],
                            Double.isNaN(lastVal) ? "" : String.format(Locale.ROOT, ", last val %.4f", lastVal), (System.nanoTime() - t0) * 1e-9);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing the loss log " + o.log, e);
        }
        double seconds = (System.nanoTime() - t0) * 1e-9;
        int tail = Math.min(50, losses.size());
        r.put("final_loss", TrainBench.round(losses.get(losses.size() - 1), 4));
        r.put("mean_loss_last_" + tail, TrainBench.round(losses.subList(losses.size() - tail, losses.size()).stream().mapToDouble(d -> d).average().orElseThrow(), 4));
        r.put("final_val_loss", TrainBench.round(lastVal, 4));
        r.put("seconds", TrainBench.round(seconds, 1));
        r.put("tokens_per_s", TrainBench.round((double) o.steps * o.batch * o.seq / seconds, 1));
        r.put("log", o.log.toString());
        return r;
    }

    /** Mean loss over the validation windows (batch at a time; every batch full, so the mean of batch means is the token mean). */
    static double evaluate(DeviceLlama model, int[][] windows, int batch, int seq) {
        int rows = windows[0].length / seq;
        double sum = 0;
        long count = 0;
        for (int r = 0; r < rows; r += batch) {
            int[] x = java.util.Arrays.copyOfRange(windows[0], r * seq, (r + batch) * seq), y = java.util.Arrays.copyOfRange(windows[1], r * seq, (r + batch) * seq);
            model.forward(x, y, batch, seq);
            sum += model.lossSum();
            count += model.predictedCount();
        }
        return sum / count;
    }

    private static Run open(Options o, LlamaConfig cfg) {
        LrSchedule schedule = new LrSchedule(o.lr, o.lrWarmup, o.steps, o.minLrFraction);
        if (o.optimizer == Optimizer.QFT) {
            boolean fused = o.policy == UpdatePolicy.FUSED_PER_LAYER;
            TrainConfig tc = TrainConfig.builder().learningRate(o.lr).betas(0.9, 0.99).weightDecay(o.weightDecay)
                    .clip(fused ? ClipMode.PER_TENSOR_NORM : ClipMode.GLOBAL_NORM, 1.0).updatePolicy(o.policy).steps(o.steps)
                    .warmupSteps(o.lrWarmup).minLrFraction(o.minLrFraction).batchSize(o.batch).seqLen(o.seq).seed(o.seed).device(o.device).build();
            DeviceQftTrainer t = new DeviceQftTrainer(TrainBench.randomWeights(cfg, o.seed), tc, Integer.MAX_VALUE, DeviceLlama.Recompute.NONE);
            t.backwardMatmuls(o.backward);
            t.model().fp32Math(o.fp32Math);
            t.model().outlierProducts(o.outliers);
            return new Run() {
                public double[] step(int[] tokens, int[] targets, int batch, int seq) {
                    DeviceQftTrainer.Step s = t.step(tokens, targets, batch, seq);
                    if (s.skipped()) System.err.println("qft step " + s.step() + " skipped: gradient norm " + s.gradNorm());
                    return new double[] {s.loss(), s.lr()};
                }

                public DeviceLlama model() { return t.model(); }

                public void close() { t.close(); }
            };
        }
        Fp32Baseline.Kind kind = o.optimizer == Optimizer.FP32_ADAMW ? Fp32Baseline.Kind.ADAMW : Fp32Baseline.Kind.LION;
        double b2 = kind == Fp32Baseline.Kind.ADAMW ? 0.95 : 0.99;
        Fp32Baseline f = new Fp32Baseline(TrainBench.randomWeights(cfg, o.seed), o.device, o.batch, o.seq, kind, schedule, 0.9, b2, o.weightDecay, 1.0);
        return new Run() {
            int step;

            public double[] step(int[] tokens, int[] targets, int batch, int seq) {
                float loss = f.step(tokens, targets, batch, seq);
                return new double[] {loss, schedule.at(++step)};
            }

            public DeviceLlama model() { return f.model(); }

            public void close() { f.close(); }
        };
    }

    /** A JSON number: shortest round-trip decimal; non-finite values as null. */
    private static String num(double v) {
        return Double.isFinite(v) ? Double.toString(v) : "null";
    }
}
