package org.qft4j.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.qft4j.Cuda;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Qft4jException;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.RopeLayout;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.llama.device.DeviceQftTrainer;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.Int8Backward;
import org.qft4j.llama.device.OutlierProducts;
import org.qft4j.llama.device.PhaseTimer;
import org.qft4j.llama.device.PhaseTimer.Phase;
import org.qft4j.nativ.CoreNative;
import org.qft4j.tensor.MemoryStats;
import org.qft4j.train.ClipMode;
import org.qft4j.train.MemoryReport;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.UpdatePolicy;

/**
 * Issue 10's training benchmark: QFT full-parameter training ({@link DeviceQftTrainer}, stash or fused per-layer policy) of
 * LLaMA-architecture models with random weights at real shapes, on one device. Reports tokens/s, model FLOPs
 * utilisation, the allocator's peak bytes, persistent bytes per parameter and the time split of a step, as one JSON
 * object whose keys are those of the PyTorch peer (bench/gpu-host/torch_peer.py) where they mean the same;
 * bench/gpu-host/run.sh train runs both and prints the table with the ratios.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp target/classes:$(ls ~/.m2/repository/org/bytedeco/javacpp/1.5.14/*.jar | tr '\n' :) \
 *     org.qft4j.bench.TrainBench --model 1b --batch 1 --seq 2048 --device cuda [--policy stash|fused --warmup 1 --steps 3 --split-steps 1 --recompute | --recompute-segments --backward fp32|int8-input|int8 --fp32-math fp32|tf32 --outliers fp32-sparse|int8]
 * </pre>
 *
 * With {@code --tokens FILE} it trains on real text instead and logs the loss per step ({@link LossCurve}).
 *
 * Timed steps run as training does, with no synchronisation inside a step; the time split comes from separate steps
 * that wait for the device at each split point ({@link PhaseTimer}). FLOPs per token follow the peer (PaLM appendix B):
 * 6 N + 12 layers dim seq, N counting every weight matrix but the embedding; utilisation is against the H100 SXM dense
 * bf16 tensor-core peak, 989.4 TFLOPS, as the peer's, so both columns compare (QFT's forward matmuls are INT8, its
 * backward fp32 or, with {@code --backward int8-input|int8}, INT8 too: none is bf16; {@code --fp32-math tf32} runs attention,
 * the classifier's backward and any fp32 backward matmul on TF32 tensor cores, {@link Fp32Math}; {@code --outliers int8} the
 * outliers' products on the INT8 GEMM, {@link OutlierProducts}). A configuration that runs out of device memory reports {@code "fits": false} and why.
 */
public final class TrainBench {
    static final double H100_BF16_DENSE_TFLOPS = 989.4;

    /** The benchmark's model shapes: the PyTorch peer's SHAPES, untied classifier, rotate-half RoPE. */
    public enum Shape {
        TINY("tiny", 64, 2, 4, 2, 172, 512),          // a smoke test that runs anywhere in seconds
        SMALL("small", 64, 2, 4, 4, 172, 50304),      // the CPU stand-in of the 125m loss curve: tiny blocks, the GPT-2 vocabulary
        M125("125m", 768, 12, 12, 12, 2048, 50304),   // GPT-2 BPE vocabulary (50257) padded to a multiple of 64
        B1("1b", 2048, 22, 32, 4, 5632, 32000),       // TinyLlama-1.1B
        B7("7b", 4096, 32, 32, 32, 11008, 32000);     // LLaMA-2-7B

        final String label;
        final int dim, layers, heads, kvHeads, ffn, vocab;

        Shape(String label, int dim, int layers, int heads, int kvHeads, int ffn, int vocab) {
            this.label = label;
            this.dim = dim;
            this.layers = layers;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.ffn = ffn;
            this.vocab = vocab;
        }

        public LlamaConfig config(int seqLen) {
            return new LlamaConfig(dim, ffn, layers, heads, kvHeads, vocab, seqLen, 1e-5f, 10000f, RopeLayout.ROTATE_HALF, false);
        }

        static Shape parse(String s) {
            for (Shape x : values()) if (x.label.equals(s)) return x;
            throw new IllegalArgumentException("unknown model '" + s + "': use tiny, small, 125m, 1b or 7b");
        }
    }

    /** What to run: warmup untimed steps, steps timed ones, then splitSteps with the phase timer. */
    public record Options(Shape shape, Device device, UpdatePolicy policy, int batch, int seq, int warmup, int steps, int splitSteps,
                          DeviceLlama.Recompute recompute, Int8Backward.BackwardMatmuls backward, Fp32Math fp32Math, OutlierProducts outliers, long seed) {
        public Options {
            if (policy == null || backward == null || fp32Math == null || outliers == null)
                throw new IllegalArgumentException("TrainBench: an update policy, backward matmuls and fp32 math are required");
            if (batch <= 0 || seq <= 0 || steps <= 0 || warmup < 0 || splitSteps < 0)
                throw new IllegalArgumentException("TrainBench: batch, seq and steps must be positive, warmup and split steps >= 0; got batch "
                        + batch + ", seq " + seq + ", steps " + steps + ", warmup " + warmup + ", split steps " + splitSteps);
        }

        static Options parse(String[] args) {
            Shape shape = null;
            Device device = Device.CPU;
            UpdatePolicy policy = UpdatePolicy.STASH;
            int batch = 1, seq = 256, warmup = 1, steps = 3, split = 1;
            DeviceLlama.Recompute recompute = DeviceLlama.Recompute.NONE;
            Int8Backward.BackwardMatmuls backward = Int8Backward.BackwardMatmuls.FP32;
            Fp32Math fp32Math = Fp32Math.FP32;
            OutlierProducts outliers = OutlierProducts.FP32_SPARSE;
            long seed = 1;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--recompute") || a.equals("--recompute-segments")) {
                    recompute = a.equals("--recompute") ? DeviceLlama.Recompute.BLOCKS : DeviceLlama.Recompute.SEGMENTS;
                    continue;
                }
                if (i + 1 >= args.length) throw new IllegalArgumentException("TrainBench: " + a + " needs a value");
                String v = args[++i];
                switch (a) {
                    case "--model" -> shape = Shape.parse(v);
                    case "--device" -> device = Device.parse(v);
                    case "--policy" -> policy = parsePolicy(v);
                    case "--batch" -> batch = Integer.parseInt(v);
                    case "--seq" -> seq = Integer.parseInt(v);
                    case "--warmup" -> warmup = Integer.parseInt(v);
                    case "--steps" -> steps = Integer.parseInt(v);
                    case "--split-steps" -> split = Integer.parseInt(v);
                    case "--backward" -> backward = Int8Backward.BackwardMatmuls.parse(v);
                    case "--fp32-math" -> fp32Math = parseFp32Math(v);
                    case "--outliers" -> outliers = OutlierProducts.parse(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    default -> throw new IllegalArgumentException("TrainBench: unknown option " + a);
                }
            }
            if (shape == null) throw new IllegalArgumentException("TrainBench: --model tiny|small|125m|1b|7b is required");
            return new Options(shape, device, policy, batch, seq, warmup, steps, split, recompute, backward, fp32Math, outliers, seed);
        }
    }

    static Fp32Math parseFp32Math(String v) {
        return switch (v) {
            case "fp32" -> Fp32Math.FP32;
            case "tf32" -> Fp32Math.TF32;
            default -> throw new IllegalArgumentException("unknown fp32 math '" + v + "': use fp32 or tf32");
        };
    }

    static UpdatePolicy parsePolicy(String v) {
        return switch (v) {
            case "stash" -> UpdatePolicy.STASH;
            case "fused" -> UpdatePolicy.FUSED_PER_LAYER;
            default -> throw new IllegalArgumentException("TrainBench: --policy stash|fused, got " + v);
        };
    }

    private TrainBench() {}

    /** With --tokens: {@link LossCurve}'s token-file mode (loss curves on real text); otherwise the speed bench. */
    public static void main(String[] args) {
        if (Arrays.asList(args).contains("--tokens")) {
            LossCurve.main(args);
            return;
        }
        Options o = parseOrExit(Options::parse, args);
        Map<String, Object> r = run(o);
        System.out.println(json(r));
        if (Boolean.FALSE.equals(r.get("fits"))) System.err.println(o.shape.label + ": does not fit: " + r.get("error"));
    }

    /** A command line's options, or exit status 2 with the parser's message (which names the bad option). */
    static <T> T parseOrExit(Function<String[], T> parse, String[] args) {
        try {
            return parse.apply(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            throw e;
        }
    }

    /** Builds the model, trains and measures; the result's keys are those of the JSON line. */
    public static Map<String, Object> run(Options o) {
        LlamaConfig cfg = o.shape.config(o.seq);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("impl", "qft4j");
        r.put("gpu", o.device.isCuda() ? Cuda.status().gpus().get(o.device.nativeId()).name() : "cpu");
        r.put("model", o.shape.label);
        boolean fused = o.policy == UpdatePolicy.FUSED_PER_LAYER;
        r.put("mode", fused ? "qft-lion-fused" : "qft-lion-stash");
        r.put("batch", o.batch);
        r.put("seq", o.seq);
        r.put("recompute", o.recompute != DeviceLlama.Recompute.NONE);
        r.put("recompute_mode", o.recompute.name().toLowerCase(Locale.ROOT));
        r.put("backward", o.backward.label());
        r.put("fp32_math", o.fp32Math.name().toLowerCase(Locale.ROOT));
        r.put("outliers", o.outliers.label());
        // Clipping as each policy can: by the global norm under STASH, per tensor under FUSED_PER_LAYER.
        TrainConfig tc = TrainConfig.builder().learningRate(1e-4).betas(0.9, 0.99).weightDecay(0.1)
                .clip(fused ? ClipMode.PER_TENSOR_NORM : ClipMode.GLOBAL_NORM, 1.0).updatePolicy(o.policy)
                .steps(o.warmup + o.steps + o.splitSteps).warmupSteps(0).batchSize(o.batch).seqLen(o.seq).seed(o.seed).device(o.device).build();
        int n = o.batch * o.seq;
        SplittableRandom data = new SplittableRandom(o.seed);
        long t0 = System.nanoTime();
        log("%s: building %,d parameters on %s", o.shape.label, cfg.parameterCount(), o.device);
        try (DeviceQftTrainer t = new DeviceQftTrainer(randomWeights(cfg, o.seed), tc, Integer.MAX_VALUE, o.recompute)) {
            t.backwardMatmuls(o.backward);
            t.model().fp32Math(o.fp32Math);
            t.model().outlierProducts(o.outliers);
            sync(o.device);
            r.put("fits", true);
            r.put("params", cfg.parameterCount());
            r.put("build_s", round((System.nanoTime() - t0) * 1e-9, 2));
            log("%s: built in %.1f s", o.shape.label, (System.nanoTime() - t0) * 1e-9);
            DeviceQftTrainer.Step last = null;
            for (int i = 0; i < o.warmup; i++) last = logged(step(t, o, data), -1);
            double[] times = new double[o.steps];
            for (int i = 0; i < o.steps; i++) {
                int[][] batch = randomBatch(o, cfg.vocabSize(), data);
                sync(o.device);
                long s = System.nanoTime();
                DeviceQftTrainer.Step step = t.step(batch[0], batch[1], o.batch, o.seq);
                sync(o.device);
                times[i] = (System.nanoTime() - s) * 1e-9;
                last = logged(step, times[i]);
            }
            PhaseTimer timer = new PhaseTimer(o.device);
            t.timePhases(timer);
            for (int i = 0; i < o.splitSteps; i++) {
                int[][] batch = randomBatch(o, cfg.vocabSize(), data);
                timer.start();
                last = logged(t.step(batch[0], batch[1], o.batch, o.seq), -1);
            }
            t.timePhases(null);

            double stepS = median(times);
            r.put("step_ms_median", round(stepS * 1e3, 2));
            r.put("tokens_per_s", round(n / stepS, 1));
            r.put("mfu_pct_of_bf16_peak", o.device.isCuda() ? round(100 * flopsPerToken(cfg, o.seq) * n / stepS / (H100_BF16_DENSE_TFLOPS * 1e12), 2) : null);
            MemoryStats mem = MemoryStats.of(o.device);
            MemoryReport state = t.memory();
            r.put("peak_allocated_gib", round(mem.peakBytes() / (double) (1L << 30), 3));
            r.put("persistent_bytes_per_param", round(state.bytesPerParameter(), 3));
            r.put("fp32_staging_grad_bytes_per_param", round(t.fp32StagingGradientBytes() / (double) state.parameters(), 3));
            r.put("live_bytes_per_param", round(mem.liveBytes() / (double) state.parameters(), 3));
            if (o.splitSteps > 0)
                for (Phase p : Phase.values()) r.put(p.name().toLowerCase(Locale.ROOT) + "_ms", round(timer.seconds(p) * 1e3 / o.splitSteps, 2));
            r.put("final_loss", round(last.loss(), 4));
            r.put("timed_steps", o.steps);
        } catch (Qft4jException e) {
            if (e.status() != NativeStatus.ENOMEM) throw e;
            doesNotFit(r, o, e.getMessage());
        } catch (OutOfMemoryError e) {
            doesNotFit(r, o, "Java heap: " + e.getMessage());
        }
        return r;
    }

    /** Model FLOPs per token of a training step (forward and backward), as the peer counts them. */
    static double flopsPerToken(LlamaConfig c, int seq) {
        long perLayer = 2L * c.dim() * c.dim() + 2L * c.kvDim() * c.dim() + 3L * c.hiddenDim() * c.dim();
        long matmul = c.nLayers() * perLayer + (long) c.vocabSize() * c.dim();
        return 6.0 * matmul + 12.0 * c.nLayers() * c.dim() * seq;
    }

    /** Random weights (std 0.02, unit norms), generated matrix by matrix as the trainer uploads them. */
    static LlamaWeights randomWeights(LlamaConfig c, long seed) {
        int dim = c.dim(), kv = c.kvDim(), h = c.hiddenDim(), v = c.vocabSize();
        var m = new Object() {
            long next = seed << 20; // one generator seed per matrix

            RandomMatrix of(int rows, int cols) { return new RandomMatrix(rows, cols, next++, 0.02f); }
        };
        LlamaWeights.Layer[] layers = new LlamaWeights.Layer[c.nLayers()];
        for (int l = 0; l < layers.length; l++)
            layers[l] = new LlamaWeights.Layer(ones(dim), m.of(dim, dim), m.of(kv, dim), m.of(kv, dim), m.of(dim, dim),
                    ones(dim), m.of(h, dim), m.of(dim, h), m.of(h, dim));
        return new LlamaWeights(c, m.of(v, dim), m.of(v, dim), layers, ones(dim));
    }

    private static float[] ones(int n) {
        float[] w = new float[n];
        Arrays.fill(w, 1f);
        return w;
    }

    private static DeviceQftTrainer.Step step(DeviceQftTrainer t, Options o, SplittableRandom data) {
        int[][] batch = randomBatch(o, t.model().config().vocabSize(), data);
        return t.step(batch[0], batch[1], o.batch, o.seq);
    }

    /** (batch, seq) fresh random tokens and their next tokens, as the peer's random batches: the loss stays near ln V. */
    private static int[][] randomBatch(Options o, int vocab, SplittableRandom rnd) {
        int[] tokens = new int[o.batch * o.seq], targets = new int[o.batch * o.seq];
        for (int b = 0; b < o.batch; b++) {
            int prev = rnd.nextInt(vocab);
            for (int t = 0; t < o.seq; t++) {
                int next = rnd.nextInt(vocab);
                tokens[b * o.seq + t] = prev;
                targets[b * o.seq + t] = next;
                prev = next;
            }
        }
        return new int[][] {tokens, targets};
    }

    private static void doesNotFit(Map<String, Object> r, Options o, String reason) {
        r.put("fits", false);
        r.put("error", reason);
        r.put("peak_allocated_gib", round(MemoryStats.of(o.device).peakBytes() / (double) (1L << 30), 3));
    }

    private static DeviceQftTrainer.Step logged(DeviceQftTrainer.Step s, double seconds) {
        if (seconds < 0) log("step %d: loss %.4f%s", s.step(), s.loss(), s.skipped() ? " (skipped)" : "");
        else log("step %d: loss %.4f, %.1f ms%s", s.step(), s.loss(), seconds * 1e3, s.skipped() ? " (skipped)" : "");
        return s;
    }

    private static void sync(Device d) {
        NativeStatus.check(CoreNative.qft_synchronize(d.nativeId()), "synchronizing " + d);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    static double round(double v, int digits) {
        if (!Double.isFinite(v)) return v;
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    private static void log(String format, Object... args) {
        System.err.println(String.format(Locale.ROOT, format, args));
    }

    /** One line of JSON: strings, numbers, booleans and nulls. */
    static String json(Map<String, Object> r) {
        List<String> fields = new ArrayList<>();
        for (Map.Entry<String, Object> e : r.entrySet()) {
            Object v = e.getValue();
            String s = v instanceof String str ? quote(str)
                    : v == null || (v instanceof Double d && !Double.isFinite(d)) ? "null" : v.toString();
            fields.add(quote(e.getKey()) + ": " + s);
        }
        return "{" + String.join(", ", fields) + "}";
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') b.append('\\').append(ch);
            else if (ch < 0x20) b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
            else b.append(ch);
        }
        return b.append('"').toString();
    }
}
