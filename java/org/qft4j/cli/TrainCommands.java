package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.qft4j.Device;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.TextTokenizer;
import org.qft4j.llama.Tokenizer;
import org.qft4j.llama.TokenizerJson;
import org.qft4j.qft.Rounding;
import org.qft4j.train.ClipMode;
import org.qft4j.train.CliRun;
import org.qft4j.train.EmbeddedDefault;
import org.qft4j.train.ModelPart;
import org.qft4j.train.OptimizerKind;
import org.qft4j.train.SyntheticTokenizer;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.Trainer;
import org.qft4j.train.TrainingData;
import org.qft4j.train.UpdatePolicy;

/** The {@code train} command; {@code eval} and {@code generate} read what it saves. */
final class TrainCommands {
    private TrainCommands() {}

    static final String TRAIN_USAGE = String.join("\n",
            "  train                                  no options: the embedded default (pretrain a tiny model, QFT fine-tune it)",
            "  train --model M.bin --data PATH... [options]",
            "      --tokenizer T       tokenizer.bin, tokenizer.json or a directory holding it (default: the model",
            "                          directory's tokenizer.json, else tokenizer.bin or tok*.bin next to the model)",
            "      --data PATH         text file, folder of .txt/.jsonl, or .jsonl {prompt,response}; repeatable",
            "      --val-data PATH     held-out data (default: --val-fraction of the training sequences)",
            "      --val-fraction F    0.1",
            "      --optimizer qft|lion|adamw  (qft: INT8 weights, gradients, momentum; lion/adamw: fp32 baselines)",
            "      --method peqa       PEQA instead: RTN-quantize the block matrices, train only their scales (AdamW, no decay)",
            "      --bits 3|4          PEQA code width (4)",
            "      --group-size N|channel  PEQA columns per scale (128); channel: one scale per output row",
            "      --train-parts P,... what trains, the rest stays frozen: embedding (token embedding/classifier; PEQA",
            "                          quantizes it too and trains its scales), blocks, norms (default: all; PEQA: blocks)",
            "      --lr X --betas B1,B2 --weight-decay X --steps N --warmup N --min-lr-fraction F",
            "      --batch N --accum N --seq N --outliers F --reselect N --rounding weyl|sr|rtn (default weyl)",
            "      --clip none|global:NORM|tensor:NORM --policy stash|fused --fp32-below N",
            "      --eval-every N --eval-seqs N --save-every N --keep N --out DIR (default qft4j-run) --seed N --device cpu",
            "      --on-save-failure continue|stop  a checkpoint save that fails (full disk): warn and retry at the next",
            "                          interval (default), or stop with the error; earlier checkpoints stay intact",
            "      --resume DIR        continue from DIR's newest valid checkpoint (default: DIR/checkpoints of --out,",
            "                          when it holds one; --resume none starts over)",
            "      writes DIR/model.bin, DIR/hf/ (Hugging Face LLaMA), DIR/model-int8.safetensors (INT8 hybrid) and",
            "      DIR/tokenizer.bin and DIR/hf/tokenizer.json (eval and generate read each model), metrics.jsonl, loss.png,",
            "      checkpoints/; PEQA writes the tuned b-bit model as DIR/model-peqa.bin instead of the three model files");

    static int train(String[] args, PrintStream out) {
        if (args.length == 0) {
            Path dir = Path.of("qft4j-default-run");
            out.println("(no arguments: running the embedded default; outputs go to " + dir + ")");
            EmbeddedDefault.run(dir, 150, 120, out);
            return 0;
        }
        TrainConfig.Builder b = TrainConfig.builder().outputDir(Path.of("qft4j-run"));
        List<Path> data = new ArrayList<>(), val = new ArrayList<>();
        String resume = null, method = null, optimizer = null;
        boolean peqaLayout = false;
        for (int i = 0; i < args.length; i++) {
            String o = args[i];
            if (!o.startsWith("--")) throw new IllegalArgumentException("train: unexpected argument '" + o + "'");
            if (i + 1 >= args.length) throw new IllegalArgumentException("train: " + o + " needs a value");
            String v = args[++i];
            switch (o) {
                case "--model" -> b.model(Path.of(v));
                case "--tokenizer" -> b.tokenizer(Path.of(v));
                case "--data" -> data.add(Path.of(v));
                case "--val-data" -> val.add(Path.of(v));
                case "--val-fraction" -> b.validationFraction(num(o, v));
                case "--method" -> method = v;
                case "--bits" -> {
                    b.bits(integer(o, v));
                    peqaLayout = true;
                }
                case "--group-size" -> {
                    b.groupSize(v.equals("channel") ? TrainConfig.PER_CHANNEL : positive(o, v));
                    peqaLayout = true;
                }
                case "--train-parts" -> b.trainedParts(ModelPart.parse(v));
                case "--optimizer" -> b.optimizer(switch (optimizer = v) {
                    case "qft" -> OptimizerKind.QFT_LION;
                    case "lion" -> OptimizerKind.FP32_LION;
                    case "adamw" -> OptimizerKind.FP32_ADAMW;
                    default -> throw new IllegalArgumentException("--optimizer: use qft, lion or adamw, got '" + v + "'");
                });
                case "--lr" -> b.learningRate(num(o, v));
                case "--betas" -> {
                    String[] p = v.split(",");
                    if (p.length != 2) throw new IllegalArgumentException("--betas: give B1,B2, got '" + v + "'");
                    b.betas(num(o, p[0]), num(o, p[1]));
                }
                case "--weight-decay" -> b.weightDecay(num(o, v));
                case "--steps" -> b.steps(integer(o, v));
                case "--warmup" -> b.warmupSteps(integer(o, v));
                case "--min-lr-fraction" -> b.minLrFraction(num(o, v));
                case "--batch" -> b.batchSize(integer(o, v));
                case "--accum" -> b.gradAccumulation(integer(o, v));
                case "--seq" -> b.seqLen(integer(o, v));
                case "--outliers" -> b.outlierFraction(num(o, v));
                case "--reselect" -> b.outlierReselectInterval(integer(o, v));
                case "--rounding" -> b.rounding(switch (v) {
                    case "sr" -> Rounding.STOCHASTIC;
                    case "weyl" -> Rounding.STOCHASTIC_WEYL;
                    case "rtn" -> Rounding.NEAREST;
                    default -> throw new IllegalArgumentException("--rounding: use sr, weyl or rtn, got '" + v + "'");
                });
                case "--clip" -> clip(b, v);
                case "--policy" -> b.updatePolicy(switch (v) {
                    case "stash" -> UpdatePolicy.STASH;
                    case "fused" -> UpdatePolicy.FUSED_PER_LAYER;
                    default -> throw new IllegalArgumentException("--policy: use stash or fused, got '" + v + "'");
                });
                case "--fp32-below" -> b.fp32Below(integer(o, v));
                case "--eval-every" -> b.evalInterval(integer(o, v));
                case "--eval-seqs" -> b.evalSequences(integer(o, v));
                case "--save-every" -> b.checkpointInterval(integer(o, v));
                case "--keep" -> b.keepLast(integer(o, v));
                case "--on-save-failure" -> b.onSaveFailure(switch (v) {
                    case "continue" -> CheckpointStore.OnSaveFailure.CONTINUE;
                    case "stop" -> CheckpointStore.OnSaveFailure.STOP;
                    default -> throw new IllegalArgumentException("--on-save-failure: use continue or stop, got '" + v + "'");
                });
                case "--resume" -> resume = v;
                case "--out" -> b.outputDir(Path.of(v));
                case "--seed" -> b.seed(integer(o, v));
                case "--device" -> b.device(Device.parse(v));
                default -> throw new IllegalArgumentException("train: unknown option '" + o + "'");
            }
        }
        if (method != null) switch (method) {
            case "peqa" -> {
                if (optimizer != null) throw new IllegalArgumentException("train: --method peqa trains the scales with AdamW; drop --optimizer " + optimizer);
                b.optimizer(OptimizerKind.PEQA_ADAMW);
            }
            case "qft" -> {}
            default -> throw new IllegalArgumentException("--method: use peqa, or qft (the default: --optimizer picks QFT or an fp32 baseline), got '" + method + "'");
        }
        if (peqaLayout && !"peqa".equals(method)) throw new IllegalArgumentException("train: --bits and --group-size need --method peqa");
        TrainConfig c = b.trainData(data).validationData(val).build();
        if (c.model == null) throw new IllegalArgumentException("train: --model is required with options (or give no options for the embedded default)");
        Path tokPath = tokenizerPath(c.model, c.tokenizer);
        LlamaWeights w = load(c.model);
        TrainingData.Split split;
        try (TextTokenizer tok = TextTokenizer.load(tokPath, w.config.vocabSize())) {
            var enc = SyntheticTokenizer.encoder(tok);
            split = c.validationData.isEmpty()
                    ? TrainingData.split(TrainingData.load(c.trainData, enc, c.seqLen), c.validationFraction, c.seed)
                    : new TrainingData.Split(TrainingData.load(c.trainData, enc, c.seqLen), TrainingData.load(c.validationData, enc, c.seqLen));
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e); // the message names the file and the problem
        }
        out.println("config: " + c);
        out.println(String.format(Locale.ROOT, "data: %d training and %d validation sequences of up to %d tokens",
                split.train().size(), split.validation().size(), c.seqLen));
        try (Trainer t = new Trainer(c, w, split)) {
            resume(t, resume, out);
            CliRun.train(t, c.optimizer + " fine-tune of " + c.model.getFileName(), out);
        }
        copyTokenizer(tokPath, c, out);
        return 0;
    }

    /** Explicit --resume DIR must hold a usable checkpoint; without it, the run's own checkpoints are used when present. */
    private static void resume(Trainer t, String option, PrintStream out) {
        if ("none".equals(option)) return;
        Path dir = option != null ? Path.of(option) : Trainer.checkpointDirectory(t.config().outputDir);
        if (option == null && !Files.isDirectory(dir)) return;
        try {
            var c = t.resumeLatest(dir);
            if (c.isPresent()) out.println("resumed from " + c.get().file() + " at step " + c.get().step());
            else if (option != null)
                throw new IllegalArgumentException("--resume " + dir + ": no complete checkpoint of this model and config there"
                        + " (skipped ones are logged with their reasons)");
        } catch (CheckpointException e) {
            throw new IllegalArgumentException("cannot resume: " + e.getMessage(), e);
        }
    }

    private static void clip(TrainConfig.Builder b, String v) {
        if (v.equals("none")) {
            b.clip(ClipMode.NONE, 0);
            return;
        }
        String[] p = v.split(":");
        if (p.length != 2 || !(p[0].equals("global") || p[0].equals("tensor")))
            throw new IllegalArgumentException("--clip: use none, global:NORM or tensor:NORM, got '" + v + "'");
        b.clip(p[0].equals("global") ? ClipMode.GLOBAL_NORM : ClipMode.PER_TENSOR_NORM, num("--clip", p[1]));
    }

    static LlamaWeights load(Path model) {
        try {
            return ModelLoader.load(model);
        } catch (IOException e) {
            throw new UncheckedIOException("loading " + model, e);
        }
    }

    /**
     * The given tokenizer, else the model directory's tokenizer.json (a Hugging Face model), else tokenizer.bin or the
     * single tok*.bin next to the model.
     */
    static Path tokenizerPath(Path model, Path given) {
        if (given != null) return given;
        if (Files.isRegularFile(model.resolve("tokenizer.json"))) return model;
        Path dir = model.toAbsolutePath().getParent();
        Path t = dir.resolve("tokenizer.bin");
        if (Files.exists(t)) return t;
        try (var s = Files.list(dir)) {
            List<Path> c = s.filter(p -> p.getFileName().toString().matches("tok.*\\.bin")).toList();
            if (c.size() != 1) throw new IllegalArgumentException("no tokenizer given and " + c.size() + " tok*.bin files next to " + model + ": use --tokenizer");
            return c.get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Puts the tokenizer beside the saved models, so eval and generate find it: a llama2.c tokenizer as
     * DIR/tokenizer.bin and, converted, as DIR/hf/tokenizer.json; a Hugging Face one as DIR/hf/tokenizer.json (with its
     * tokenizer_config.json when there is one). A tokenizer.bin that tokenizer.json cannot hold is reported, not fatal.
     */
    private static void copyTokenizer(Path src, TrainConfig c, PrintStream out) {
        Path hf = c.outputDir.resolve("hf");
        try {
            if (Files.isDirectory(src) || src.getFileName().toString().endsWith(".json")) {
                Path json = Files.isDirectory(src) ? src.resolve("tokenizer.json") : src, cfg = json.resolveSibling("tokenizer_config.json");
                Files.createDirectories(hf);
                Files.copy(json, hf.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
                if (Files.isRegularFile(cfg)) Files.copy(cfg, hf.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
                return;
            }
            Files.copy(src, c.outputDir.resolve("tokenizer.bin"), StandardCopyOption.REPLACE_EXISTING);
            try {
                TokenizerJson.writeHf(Tokenizer.load(src), hf, c.seqLen);
            } catch (IllegalArgumentException e) {
                out.println("warning: " + hf.resolve("tokenizer.json") + " not written: " + e.getMessage());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("copying the tokenizer to " + c.outputDir, e);
        }
    }

    private static double num(String opt, String v) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(opt + ": not a number: '" + v + "'");
        }
    }

    private static int positive(String opt, String v) {
        int n = integer(opt, v);
        if (n < 1) throw new IllegalArgumentException(opt + ": give a positive number of columns or 'channel', got '" + v + "'");
        return n;
    }

    private static int integer(String opt, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(opt + ": not an integer: '" + v + "'");
        }
    }
}
