package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.qft4j.Device;
import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.Llama2cFormat;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.Tokenizer;
import org.qft4j.llama.WeightMatrix;

/**
 * The PEQA measurement on stories260K (minutes, so only on request:
 * {@code mvn -B -o -Dtest=PeqaAustenMeasurement -Dqft4j.peqa.measure=true verify}): held-out persuasion.txt
 * perplexity (its first {@code qft4j.peqa.paragraphs} paragraphs, default 200, reference protocol) of the fp32
 * model, RTN 4/3-bit (group 128) before tuning and after PEQA scale-only tuning on the other five Austen novels
 * ({@code qft4j.peqa.steps} AdamW steps, batch 8 x 128 tokens, lr {@code qft4j.peqa.lr}, weight decay 0), and the
 * fp32 baseline: AdamW on every weight with the same batches and steps (lr {@code qft4j.peqa.fp32lr}; 0 skips it).
 *
 * <p>This drives the PEQA matrices by hand, outside the trainer, on the paragraph protocol of {@code eval}. The
 * reported comparison (fp32 base, RTN and PEQA at 4 and 3 bits with a learning-rate and group-size sweep, QFT and
 * fp32 AdamW, all through the trainer with the same data order, tokens and steps) is made with
 * {@code org.qft4j.train.AustenExperiment} ({@code peqa:LR:bits=B:group=G}); table, commands and machine in
 * {@code bench/results/peqa-austen.md}.
 */
@EnabledIfSystemProperty(named = "qft4j.peqa.measure", matches = "true")
class PeqaAustenMeasurement {
    static final String[] TRAIN = {"emma", "mansfield-park", "northanger-abbey", "pride-and-prejudice", "sense-and-sensibility"};
    static final int BATCH = 8, T = 128;

    @Test
    void persuasionPerplexityBeforeAndAfterPeqa() throws Exception {
        int paragraphs = Integer.getInteger("qft4j.peqa.paragraphs", 200);
        int steps = Integer.getInteger("qft4j.peqa.steps", 100);
        float lr = Float.parseFloat(System.getProperty("qft4j.peqa.lr", "1e-4"));
        LlamaWeights fp32 = Llama2cFormat.load(Stories260KPeqaTest.shared("models/stories260K/stories260K.bin"));
        Tokenizer tok = Tokenizer.load(Stories260KPeqaTest.shared("models/stories260K/tok512.bin"));
        List<String> held = Perplexity.paragraphs(Files.readString(Stories260KPeqaTest.shared("data/austen/persuasion.txt")));
        String heldOut = String.join("\n\n", held.subList(0, Math.min(paragraphs, held.size())));
        int[] stream = trainingStream(tok, (long) steps * BATCH * (T + 1));

        Perplexity.Result base = Perplexity.evaluate(fp32, tok, heldOut);
        StringBuilder table = new StringBuilder(String.format(
                "persuasion.txt first %d paragraphs (%d predicted tokens); PEQA: %d steps x %d x %d tokens, lr %g%n",
                paragraphs, base.predicted(), steps, BATCH, T, lr));
        table.append(String.format("%-28s %10s %14s %16s%n", "model", "perplexity", "trainable", "weight bytes"));
        table.append(String.format("%-28s %10.4f %14s %16s%n", "fp32 base", base.perplexity(), "-", "-"));
        float fp32Lr = Float.parseFloat(System.getProperty("qft4j.peqa.fp32lr", "5e-4"));
        if (fp32Lr > 0) {
            LlamaWeights full = fp32.toFp32();
            long start0 = System.nanoTime();
            double fullLoss = tuneFp32(full, stream, steps, fp32Lr);
            table.append(String.format("%-28s %10.4f %14d %16d   (final train loss %.4f, lr %g, %.0f s)%n", "fp32 AdamW (all weights)",
                    Perplexity.evaluate(full, tok, heldOut).perplexity(), full.config.parameterCount(), 4 * full.config.parameterCount(),
                    fullLoss, fp32Lr, (System.nanoTime() - start0) / 1e9));
        }
        for (int bits : new int[] {4, 3}) {
            LlamaWeights q = PeqaModel.quantize(fp32, Device.CPU, bits, 128);
            try {
                List<PeqaMatrix> ms = PeqaModel.matrices(q);
                long packed = 0;
                for (PeqaMatrix m : ms) packed += m.weight().bytes();
                double rtn = Perplexity.evaluate(q, tok, heldOut).perplexity();
                table.append(String.format("%-28s %10.4f %14s %16d%n", "RTN " + bits + "-bit g128", rtn, "-", packed));
                long start = System.nanoTime();
                double lastLoss = tune(q, ms, stream, steps, lr);
                double secs = (System.nanoTime() - start) / 1e9;
                double tuned = Perplexity.evaluate(q, tok, heldOut).perplexity();
                table.append(String.format("%-28s %10.4f %14d %16d   (final train loss %.4f, %.0f s)%n", "PEQA " + bits + "-bit g128",
                        tuned, PeqaModel.trainableParameters(q), packed, lastLoss, secs));
                assertTrue(tuned < rtn, bits + "-bit: PEQA " + tuned + " should improve on RTN " + rtn);
            } finally {
                PeqaModel.close(q);
            }
        }
        System.out.print(table);
    }

    /** Scale-only tuning: forward + backward through the engine, AdamW (weight decay 0) on the PEQA scales. */
    static double tune(LlamaWeights q, List<PeqaMatrix> ms, int[] stream, int steps, float lr) {
        LlamaModel model = new LlamaModel(q, BATCH, T, false);
        ScaleAdamW opt = ScaleAdamW.peqa(ms);
        int[] in = new int[BATCH * T], tgt = new int[BATCH * T];
        double loss = 0;
        for (int s = 0; s < steps; s++) {
            fill(stream, s, in, tgt);
            loss = model.forward(in, tgt, BATCH, T);
            model.backward();
            opt.step(lr);
        }
        return loss;
    }

    /** The fp32 baseline on the same batches: AdamW (weight decay 0) on every weight matrix and norm. */
    static double tuneFp32(LlamaWeights w, int[] stream, int steps, float lr) {
        LlamaModel model = new LlamaModel(w, BATCH, T, false);
        List<float[]> params = new ArrayList<>(), grads = new ArrayList<>();
        for (WeightMatrix m : w.matricesInForwardOrder()) {
            params.add(((Fp32Matrix) m).weights());
            grads.add(((Fp32Matrix) m).gradient());
        }
        for (LlamaWeights.Layer y : w.layers) {
            params.addAll(List.of(y.attentionNorm, y.ffnNorm));
            grads.addAll(List.of(y.attentionNormGradient, y.ffnNormGradient));
        }
        params.add(w.finalNorm);
        grads.add(w.finalNormGradient);
        float[][] m1 = new float[params.size()][], m2 = new float[params.size()][];
        for (int i = 0; i < m1.length; i++) {
            m1[i] = new float[params.get(i).length];
            m2[i] = new float[params.get(i).length];
        }
        int[] in = new int[BATCH * T], tgt = new int[BATCH * T];
        double loss = 0;
        for (int s = 0; s < steps; s++) {
            fill(stream, s, in, tgt);
            loss = model.forward(in, tgt, BATCH, T);
            model.backward();
            float c1 = 1 - (float) Math.pow(0.9, s + 1), c2 = 1 - (float) Math.pow(0.999, s + 1);
            for (int i = 0; i < m1.length; i++) {
                float[] p = params.get(i), g = grads.get(i), a = m1[i], b = m2[i];
                for (int j = 0; j < p.length; j++) {
                    a[j] = 0.9f * a[j] + 0.1f * g[j];
                    b[j] = 0.999f * b[j] + 0.001f * g[j] * g[j];
                    p[j] -= lr * (a[j] / c1) / ((float) Math.sqrt(b[j] / c2) + 1e-8f);
                    g[j] = 0;
                }
            }
        }
        return loss;
    }

    static void fill(int[] stream, int step, int[] in, int[] tgt) {
        for (int b = 0; b < BATCH; b++) {
            int off = (step * BATCH + b) * (T + 1);
            System.arraycopy(stream, off, in, b * T, T);
            System.arraycopy(stream, off + 1, tgt, b * T, T);
        }
    }

    /** Shuffled paragraphs of the five training novels, each with BOS, concatenated to at least n tokens. */
    static int[] trainingStream(Tokenizer tok, long n) throws Exception {
        List<String> paras = new ArrayList<>();
        for (String book : TRAIN)
            paras.addAll(Perplexity.paragraphs(Files.readString(Stories260KPeqaTest.shared("data/austen/" + book + ".txt"))));
        Collections.shuffle(paras, new Random(1));
        int[] out = new int[Math.toIntExact(n)];
        int len = 0;
        for (String p : paras) {
            int[] ids = tok.encode(p, true, false);
            int k = Math.min(ids.length, out.length - len);
            System.arraycopy(ids, 0, out, len, k);
            len += k;
            if (len == out.length) return out;
        }
        throw new IllegalStateException("the training novels hold fewer than " + n + " tokens");
    }
}
