package org.qft4j.train;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.qft4j.checkpoint.Json;

/**
 * Writes one JSON object per line per event: {"event":"start"|"step"|"eval"|"checkpoint_failed"|"end", ...}, flushed per line so a
 * crashed run keeps its history. Non-finite numbers (a skipped step's norm) are written as null.
 */
public final class MetricsJsonl implements TrainListener, AutoCloseable {
    private final BufferedWriter out;

    public MetricsJsonl(Path file) {
        try {
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("opening metrics file " + file, e);
        }
    }

    @Override
    public void started(TrainConfig c, long parameters, int trainSequences, int validationSequences) {
        line("{\"event\":\"start\",\"config\":" + Json.quote(c.toString()) + ",\"parameters\":" + parameters
                + ",\"train_sequences\":" + trainSequences + ",\"validation_sequences\":" + validationSequences + "}");
    }

    @Override
    public void step(StepMetrics m) {
        line("{\"event\":\"step\",\"step\":" + m.step() + ",\"loss\":" + num(m.loss()) + ",\"lr\":" + num(m.lr())
                + ",\"grad_norm\":" + num(m.gradNorm()) + ",\"skipped\":" + m.skipped() + ",\"partial\":" + m.partial()
                + ",\"tokens\":" + m.tokens() + ",\"tokens_per_s\":" + num(m.tokensPerSecond())
                + ",\"elapsed_s\":" + num(m.elapsedSeconds()) + ",\"memory_bytes\":" + m.memoryBytes() + "}");
    }

    @Override
    public void evaluated(EvalMetrics m) {
        line("{\"event\":\"eval\",\"step\":" + m.step() + ",\"loss\":" + num(m.loss()) + ",\"perplexity\":" + num(m.perplexity())
                + ",\"tokens\":" + m.tokens() + "}");
    }

    @Override
    public void checkpointFailed(long step, Path file, org.qft4j.checkpoint.CheckpointException cause, boolean stopping) {
        line("{\"event\":\"checkpoint_failed\",\"step\":" + step + ",\"file\":" + Json.quote(file.toString()) + ",\"error\":"
                + Json.quote(String.valueOf(cause.getMessage())) + ",\"stopping\":" + stopping + "}");
    }

    @Override
    public void finished(EvalMetrics before, EvalMetrics after) {
        line("{\"event\":\"end\",\"perplexity_before\":" + num(before.perplexity()) + ",\"perplexity_after\":" + num(after.perplexity()) + "}");
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "null";
    }

    private void line(String json) {
        try {
            out.write(json);
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("writing metrics", e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("closing metrics", e);
        }
    }
}
