package org.qft4j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.qft4j.checkpoint.Json;

/**
 * The summary of loss-curve runs (JSONL logs of {@link LossCurve}, {@link CpuLossCurve} or the PyTorch peer): per run the
 * steps, the final training loss, the mean training loss over the last 50 steps, the last validation loss, and the gap
 * of the last two to the first run's in percent. A markdown table on stdout; no AWT (the GPU host's runtime has none),
 * the plot is {@code org.qft4j.train.LossPlot}'s main. A run with fewer steps than the first's window says over how many.
 *
 * <pre>
 * java ... org.qft4j.bench.CurveReport torch-bf16-adamw=peer.jsonl qft4j-qft-lion=qft.jsonl
 * </pre>
 */
public final class CurveReport {
    /** One run's figures; lastVal NaN when the log has no validation. */
    public record Summary(String name, int steps, double finalLoss, double meanLast, int meanOver, double lastVal) {}

    private CurveReport() {}

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: CurveReport NAME=LOG.jsonl... (the first run is the reference of the gaps)");
            System.exit(2);
        }
        List<Summary> runs = new ArrayList<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("CurveReport: expected NAME=LOG.jsonl, got " + a);
            runs.add(summarize(a.substring(0, eq), Path.of(a.substring(eq + 1))));
        }
        System.out.print(table(runs));
    }

    /** Reads one log: lines with "step" and "loss" (training) and/or "val_loss". */
    public static Summary summarize(String name, Path jsonl) {
        List<Double> losses = new ArrayList<>();
        double lastVal = Double.NaN;
        int steps = 0;
        try {
            for (String line : Files.readAllLines(jsonl)) {
                if (line.isBlank()) continue;
                if (!(Json.parse(line) instanceof Map<?, ?> m)) throw new IllegalArgumentException(jsonl + ": a line is not a JSON object: " + line);
                if (m.get("loss") instanceof Number l) {
                    losses.add(l.doubleValue());
                    steps = Math.max(steps, ((Number) m.get("step")).intValue());
                }
                if (m.get("val_loss") instanceof Number v) lastVal = v.doubleValue();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + jsonl, e);
        } catch (Json.ParseException e) {
            throw new IllegalArgumentException(jsonl + ": not valid JSON: " + e.getMessage(), e);
        }
        if (losses.isEmpty()) throw new IllegalArgumentException(jsonl + ": no training losses");
        int over = Math.min(50, losses.size());
        double mean = losses.subList(losses.size() - over, losses.size()).stream().mapToDouble(d -> d).average().orElseThrow();
        return new Summary(name, steps, losses.get(losses.size() - 1), mean, over, lastVal);
    }

    /** The markdown table; gaps relative to the first run: (run - first) / first * 100. */
    public static String table(List<Summary> runs) {
        Summary ref = runs.get(0);
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "| run | steps | final train loss | mean train loss, last %d steps | gap vs %s | last val loss | gap vs %s |%n",
                ref.meanOver, ref.name, ref.name));
        b.append("|---|---|---|---|---|---|---|\n");
        for (Summary s : runs)
            b.append(String.format(Locale.ROOT, "| %s | %d | %.4f | %.4f%s | %s | %s | %s |%n", s.name, s.steps, s.finalLoss, s.meanLast,
                    s.meanOver == ref.meanOver ? "" : " (last " + s.meanOver + ")",
                    s == ref ? "-" : gap(s.meanLast, ref.meanLast), Double.isNaN(s.lastVal) ? "-" : String.format(Locale.ROOT, "%.4f", s.lastVal),
                    s == ref || Double.isNaN(s.lastVal) ? "-" : gap(s.lastVal, ref.lastVal)));
        return b.toString();
    }

    private static String gap(double v, double ref) {
        return String.format(Locale.ROOT, "%+.2f%%", (v - ref) / ref * 100);
    }
}
