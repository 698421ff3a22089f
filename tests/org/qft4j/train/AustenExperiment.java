package org.qft4j.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Tokenizer;
import org.qft4j.qft.Rounding;

/**
 * The quality experiment (not a unit test; run by hand): fine-tune stories260K on five Austen novels and measure
 * held-out persuasion.txt, for QFT, fp32 Lion, fp32 AdamW and QFT with round-to-nearest, same data order, tokens
 * and steps. Usage: {@code java -cp target/classes:target/test-classes:<javacpp jar> org.qft4j.train.AustenExperiment
 * SHARED STEPS BATCH SEQ EVAL_SEQS [method:lr[:option=value...] ...]} with method qft (the trainer's defaults) |
 * qft-rtn (round to nearest) | lion | adamw | peqa and options outliers=FRACTION, reselect=STEPS, fp32below=ELEMENTS
 * (tensors smaller than this train entirely in fp32), round=weyl|sr|rtn (QFT's weight rounding; the default is weyl),
 * seed=N (data order and every rounding stream), parts=P[,P...] with P embedding|blocks|norms (what trains, the rest
 * frozen: {@link TrainConfig#trainedParts}), and for peqa bits=3|4, group=N|channel (its "before" perplexity is the
 * RTN-quantized model's). Tokens are cached under target/ (delete the .tokens files after changing the tokenizer or
 * the data). After {@code mvn -B -o -Dqft4j.cuda=OFF -DskipTests package} and
 * {@code mvn -B -o dependency:build-classpath -Dmdep.outputFile=target/jmh.classpath -Dmdep.includeScope=test}, each
 * row of bench/results/austen-quality.md is
 * {@code java -cp target/test-classes:target/classes:$(cat target/jmh.classpath) org.qft4j.train.AustenExperiment
 * ../shared 40 8 128 64 METHOD:LR:seed=S[:round=R]} for S in 1 2 3 and LR in 1e-3 2e-3 3e-3, e.g.
 * {@code ... ../shared 40 8 128 64 qft:2e-3:seed=1 qft:2e-3:seed=1:round=sr lion:2e-3:seed=1 adamw:2e-3:seed=1
 * qft-rtn:2e-3:seed=1}.
 */
public final class AustenExperiment {
    public static void main(String[] a) throws Exception {
        Path shared = Path.of(a[0]);
        int steps = Integer.parseInt(a[1]), batch = Integer.parseInt(a[2]), seq = Integer.parseInt(a[3]), evalSeqs = Integer.parseInt(a[4]);
        Path austen = shared.resolve("data/austen");
        Tokenizer tok = Tokenizer.load(shared.resolve("models/stories260K/tok512.bin"));
        TokenEncoder enc = SyntheticTokenizer.encoder(tok);
        long t0 = System.nanoTime();
        List<Path> train = new ArrayList<>();
        for (String n : new String[] {"emma", "mansfield-park", "northanger-abbey", "pride-and-prejudice", "sense-and-sensibility"})
            train.add(austen.resolve(n + ".txt"));
        List<Sequence> tr = cached(Path.of("target/austen-train-" + seq + ".tokens"), () -> TrainingData.load(train, enc, seq));
        List<Sequence> val = cached(Path.of("target/austen-persuasion-" + seq + ".tokens"), () -> TrainingData.load(List.of(austen.resolve("persuasion.txt")), enc, seq));
        // An evenly spaced sample of the held-out book, not just its first pages.
        List<Sequence> valSample = new ArrayList<>();
        for (int i = 0; i < evalSeqs; i++) valSample.add(val.get((int) ((long) i * val.size() / evalSeqs)));
        System.out.printf(Locale.ROOT, "data: %d train sequences, %d persuasion sequences (%d evaluated), tokenized in %.1f s%n",
                tr.size(), val.size(), valSample.size(), (System.nanoTime() - t0) / 1e9);
        LlamaWeights base = ModelLoader.load(shared.resolve("models/stories260K/stories260K.bin"));
        for (int k = 5; k < a.length; k++) {
            String[] m = a[k].split(":");
            double lr = Double.parseDouble(m[1]);
            TrainConfig.Builder b = TrainConfig.builder().learningRate(lr).steps(steps).warmupSteps(Math.max(1, steps / 10))
                    .batchSize(batch).seqLen(seq).clip(ClipMode.GLOBAL_NORM, 1.0).seed(1);
            for (int o = 2; o < m.length; o++) {
                String[] kv = m[o].split("=");
                switch (kv[0]) {
                    case "outliers" -> b.outlierFraction(Double.parseDouble(kv[1]));
                    case "reselect" -> b.outlierReselectInterval(Integer.parseInt(kv[1]));
                    case "fp32below" -> b.fp32Below(Integer.parseInt(kv[1]));
                    case "seed" -> b.seed(Long.parseLong(kv[1]));
                    case "bits" -> b.bits(Integer.parseInt(kv[1]));
                    case "parts" -> b.trainedParts(ModelPart.parse(kv[1]));
                    case "group" -> b.groupSize(kv[1].equals("channel") ? TrainConfig.PER_CHANNEL : Integer.parseInt(kv[1]));
                    case "round" -> b.rounding(switch (kv[1]) {
                        case "sr" -> Rounding.STOCHASTIC;
                        case "rtn" -> Rounding.NEAREST;
                        case "weyl" -> Rounding.STOCHASTIC_WEYL;
                        default -> throw new IllegalArgumentException("round must be sr|rtn|weyl, got " + kv[1]);
                    });
                    default -> throw new IllegalArgumentException("unknown option " + m[o]);
                }
            }
            switch (m[0]) {
                case "qft" -> b.optimizer(OptimizerKind.QFT_LION);
                case "qft-rtn" -> b.optimizer(OptimizerKind.QFT_LION).rounding(Rounding.NEAREST);
                case "lion" -> b.optimizer(OptimizerKind.FP32_LION);
                case "adamw" -> b.optimizer(OptimizerKind.FP32_ADAMW);
                case "peqa" -> b.optimizer(OptimizerKind.PEQA_ADAMW);
                default -> throw new IllegalArgumentException(m[0]);
            }
            long s = System.nanoTime();
            try (Trainer t = new Trainer(b.build(), base, new TrainingData.Split(tr, valSample))) {
                Trainer.Result r = t.run();
                System.out.printf(Locale.ROOT, "%-8s lr %.1e %s: persuasion perplexity %.4f -> %.4f (%d tokens), %d steps x %d tokens, %.0f s, %s%n",
                        m[0], lr, String.join(":", java.util.Arrays.copyOfRange(m, 2, m.length)), r.before().perplexity(), r.after().perplexity(), r.after().tokens(), steps, batch * seq,
                        (System.nanoTime() - s) / 1e9, r.memory());
            }
        }
    }

    /** Sequences tokenized once and kept in {@code file} (tokenizing the novels takes minutes on 2 cores). */
    static List<Sequence> cached(Path file, java.util.function.Supplier<List<Sequence>> tokenize) throws java.io.IOException {
        if (java.nio.file.Files.exists(file)) {
            try (java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(java.nio.file.Files.newInputStream(file)))) {
                int n = in.readInt();
                List<Sequence> out = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    int len = in.readInt();
                    int[] x = new int[len], y = new int[len];
                    for (int t = 0; t < len; t++) x[t] = in.readInt();
                    for (int t = 0; t < len; t++) y[t] = in.readInt();
                    out.add(new Sequence(x, y));
                }
                return out;
            }
        }
        List<Sequence> out = tokenize.get();
        java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
        try (java.io.DataOutputStream o = new java.io.DataOutputStream(new java.io.BufferedOutputStream(java.nio.file.Files.newOutputStream(file)))) {
            o.writeInt(out.size());
            for (Sequence s : out) {
                o.writeInt(s.length());
                for (int v : s.inputs()) o.writeInt(v);
                for (int v : s.targets()) o.writeInt(v);
            }
        }
        return out;
    }
}
