package org.qft4j.train;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A training run with the command line's outputs: the progress bar on {@code out}, metrics.jsonl and loss.png
 * in the config's output directory, the final model as model.bin (llama2.c), hf/ (Hugging Face LLaMA, fp32) and
 * model-int8.safetensors (INT8 hybrid inference checkpoint); for PEQA the tuned b-bit model as
 * {@value #PEQA_MODEL} instead; and the before/after summary.
 */
public final class CliRun {
    /** The tuned b-bit model of a PEQA run, in its output directory. */
    public static final String PEQA_MODEL = "model-peqa.bin";

    private CliRun() {}

    public static Trainer.Result train(Trainer t, String title, PrintStream out) {
        Path dir = t.config().outputDir;
        LossPlot plot = new LossPlot(title);
        t.addListener(new ProgressBar(out)).addListener(plot);
        MetricsJsonl metrics = dir == null ? null : new MetricsJsonl(dir.resolve("metrics.jsonl"));
        if (metrics != null) t.addListener(metrics);
        long start = System.nanoTime();
        Trainer.Result r;
        try {
            r = t.run();
        } finally {
            if (metrics != null) metrics.close();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        out.println(String.format(Locale.ROOT, "validation perplexity: before %.3f, after %.3f (loss %.4f -> %.4f, %d tokens) in %.1f s",
                r.before().perplexity(), r.after().perplexity(), r.before().loss(), r.after().loss(), r.after().tokens(), seconds));
        if (r.skippedSteps() > 0 || r.partialSteps() > 0)
            out.println("non-finite gradients: " + r.skippedSteps() + " steps skipped, " + r.partialSteps() + " applied partially");
        out.println("training state: " + r.memory());
        if (dir != null && t.config().optimizer == OptimizerKind.PEQA_ADAMW) {
            plot.writePng(dir.resolve("loss.png"));
            Path model = dir.resolve(PEQA_MODEL);
            try {
                t.exportPeqa(model);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("exporting the PEQA model to " + model, e);
            }
            out.println("wrote " + model + " (" + t.config().peqaLayout() + "), " + dir.resolve("metrics.jsonl") + ", " + dir.resolve("loss.png"));
        } else if (dir != null) {
            plot.writePng(dir.resolve("loss.png"));
            t.save(dir.resolve("model.bin"));
            try {
                t.exportHf(dir.resolve("hf"), "F32");
                t.exportInt8(dir.resolve("model-int8.safetensors"));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("exporting the model to " + dir, e);
            }
            out.println("wrote " + dir.resolve("model.bin") + ", " + dir.resolve("hf") + ", " + dir.resolve("model-int8.safetensors") + ", "
                    + dir.resolve("metrics.jsonl") + ", " + dir.resolve("loss.png"));
        }
        return r;
    }
}
