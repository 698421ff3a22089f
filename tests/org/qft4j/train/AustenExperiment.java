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
 * SHARED STEPS BATCH SEQ EVAL_SEQS [method:lr ...]} with method qft|qft-rtn|lion|adamw.
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
        List<Sequence> tr = TrainingData.load(train, enc, seq);
        List<Sequence> val = TrainingData.load(List.of(austen.resolve("persuasion.txt")), enc, seq);
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
            switch (m[0]) {
                case "qft" -> b.optimizer(OptimizerKind.QFT_LION);
                case "qft-rtn" -> b.optimizer(OptimizerKind.QFT_LION).rounding(Rounding.NEAREST);
                case "lion" -> b.optimizer(OptimizerKind.FP32_LION);
                case "adamw" -> b.optimizer(OptimizerKind.FP32_ADAMW);
                default -> throw new IllegalArgumentException(m[0]);
            }
            long s = System.nanoTime();
            try (Trainer t = new Trainer(b.build(), base, new TrainingData.Split(tr, valSample))) {
                Trainer.Result r = t.run();
                System.out.printf(Locale.ROOT, "%-8s lr %.1e: persuasion perplexity %.4f -> %.4f (%d tokens), %d steps x %d tokens, %.0f s, %s%n",
                        m[0], lr, r.before().perplexity(), r.after().perplexity(), r.after().tokens(), steps, batch * seq,
                        (System.nanoTime() - s) / 1e9, r.memory());
            }
        }
    }
}
