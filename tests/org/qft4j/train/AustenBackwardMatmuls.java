package org.qft4j.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.qft4j.Device;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Tokenizer;
import org.qft4j.llama.device.DeviceQftTrainer;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.OutlierProducts;
import org.qft4j.llama.device.Int8Backward.BackwardMatmuls;

/**
 * Issue 10's accuracy check of the INT8 backward matmuls (not a unit test; run by hand): fine-tune stories260K on the
 * five Austen novels with {@link DeviceQftTrainer} (the device engine, here on the CPU) once per backward mode and
 * seed, the same batches in the same order for every mode, and measure held-out persuasion.txt perplexity (the setup
 * of {@link AustenExperiment}, whose token caches it shares). Usage, after the build steps in AustenExperiment's doc:
 * {@code java -cp target/test-classes:target/classes:$(cat target/jmh.classpath) org.qft4j.train.AustenBackwardMatmuls
 * SHARED STEPS BATCH SEQ EVAL_SEQS LR SEEDS MODE...}, e.g. {@code ../shared 40 8 128 64 2e-3 1,2,3 fp32 int8-input int8 int8+tf32}:
 * a MODE is a backward mode, optionally followed by {@code +tf32} for {@link Fp32Math#TF32} fp32 products (attention, the
 * classifier's backward, fp32 backward matmuls; the CPU rounds their operands as the GPU's tensor cores do) and
 * {@code +int8out} for {@link OutlierProducts#INT8}, e.g. {@code int8+tf32+int8out}.
 */
public final class AustenBackwardMatmuls {
    public static void main(String[] a) throws Exception {
        Path shared = Path.of(a[0]);
        int steps = Integer.parseInt(a[1]), batch = Integer.parseInt(a[2]), seq = Integer.parseInt(a[3]), evalSeqs = Integer.parseInt(a[4]);
        double lr = Double.parseDouble(a[5]);
        Path austen = shared.resolve("data/austen");
        TokenEncoder enc = SyntheticTokenizer.encoder(Tokenizer.load(shared.resolve("models/stories260K/tok512.bin")));
        List<Path> train = new ArrayList<>();
        for (String n : new String[] {"emma", "mansfield-park", "northanger-abbey", "pride-and-prejudice", "sense-and-sensibility"})
            train.add(austen.resolve(n + ".txt"));
        List<Sequence> tr = AustenExperiment.cached(Path.of("target/austen-train-" + seq + ".tokens"), () -> TrainingData.load(train, enc, seq));
        List<Sequence> val = AustenExperiment.cached(Path.of("target/austen-persuasion-" + seq + ".tokens"),
                () -> TrainingData.load(List.of(austen.resolve("persuasion.txt")), enc, seq));
        List<Sequence> valSample = new ArrayList<>();
        for (int i = 0; i < evalSeqs; i++) valSample.add(val.get((int) ((long) i * val.size() / evalSeqs)));
        LlamaWeights base = ModelLoader.load(shared.resolve("models/stories260K/stories260K.bin")).toFp32();
        for (String seedText : a[6].split(","))
            for (int k = 7; k < a.length; k++) {
                long seed = Long.parseLong(seedText);
                String[] spec = a[k].split("\\+");
                BackwardMatmuls mode = BackwardMatmuls.parse(spec[0]);
                List<String> extras = List.of(spec).subList(1, spec.length);
                for (String e : extras)
                    if (!e.equals("tf32") && !e.equals("int8out")) throw new IllegalArgumentException("unknown mode part '" + e + "' in " + a[k]);
                Fp32Math math = extras.contains("tf32") ? Fp32Math.TF32 : Fp32Math.FP32;
                OutlierProducts outliers = extras.contains("int8out") ? OutlierProducts.INT8 : OutlierProducts.FP32_SPARSE;
                TrainConfig c = TrainConfig.builder().optimizer(OptimizerKind.QFT_LION).learningRate(lr).steps(steps)
                        .warmupSteps(Math.max(1, steps / 10)).batchSize(batch).seqLen(seq).clip(ClipMode.GLOBAL_NORM, 1.0).seed(seed)
                        .device(Device.CPU).build();
                long t0 = System.nanoTime();
                try (DeviceQftTrainer t = new DeviceQftTrainer(base, c)) {
                    t.backwardMatmuls(mode);
                    t.model().fp32Math(math);
                    t.model().outlierProducts(outliers);
                    double before = perplexity(t, valSample, batch);
                    SplittableRandom order = new SplittableRandom(seed);
                    double lastLoss = 0;
                    for (int s = 0; s < steps; s++) {
                        List<Sequence> b = new ArrayList<>(batch);
                        for (int i = 0; i < batch; i++) b.add(tr.get(order.nextInt(tr.size())));
                        lastLoss = t.step(b).loss();
                    }
                    System.out.printf(Locale.ROOT, "backward %-15s lr %.1e seed %d: persuasion perplexity %.4f -> %.4f (%d sequences), last train "
                                    + "loss %.4f, %d steps x %d tokens, %.0f s%n", a[k], lr, seed, before, perplexity(t, valSample, batch),
                            valSample.size(), lastLoss, steps, batch * seq, (System.nanoTime() - t0) / 1e9);
                }
            }
    }

    /** exp(mean loss per target token) of the model on the sequences, batch at a time (forward only). */
    static double perplexity(DeviceQftTrainer t, List<Sequence> seqs, int batch) {
        double sum = 0;
        long count = 0;
        for (int i = 0; i < seqs.size(); i += batch) {
            List<Sequence> b = seqs.subList(i, Math.min(seqs.size(), i + batch));
            int T = b.get(0).length(), n = b.size() * T;
            int[] tokens = new int[n], targets = new int[n];
            for (int j = 0; j < b.size(); j++) {
                System.arraycopy(b.get(j).inputs(), 0, tokens, j * T, T);
                System.arraycopy(b.get(j).targets(), 0, targets, j * T, T);
            }
            sum += (double) t.model().forward(tokens, targets, b.size(), T) * n;
            count += n;
        }
        return Math.exp(sum / count);
    }
}
