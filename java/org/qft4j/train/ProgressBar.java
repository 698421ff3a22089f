package org.qft4j.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line terminal progress bar redrawn in place ({@code \r}) per step:
 * {@code [#######.......]  42/100 loss 2.3410 lr 1.2e-04 5310 tok/s ETA 0:31 mem 212 MB}; evaluations and
 * skipped steps get lines of their own.
 */
public final class ProgressBar implements TrainListener {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private boolean midLine;

    public ProgressBar(PrintStream out) {
        this.out = out;
    }

    static String render(StepMetrics m) {
        int filled = (int) Math.round((double) WIDTH * m.step() / m.steps());
        StringBuilder bar = new StringBuilder("[");
        for (int i = 0; i < WIDTH; i++) bar.append(i < filled ? '#' : '.');
        bar.append(']');
        int digits = String.valueOf(m.steps()).length();
        return String.format(Locale.ROOT, "%s %" + digits + "d/%d loss %.4f lr %.1e %.0f tok/s ETA %s mem %d MB",
                bar, m.step(), m.steps(), m.loss(), m.lr(), m.tokensPerSecond(), clock(m.etaSeconds()), m.memoryBytes() >> 20);
    }

    static String clock(double seconds) {
        if (!Double.isFinite(seconds)) return "-:--";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    @Override
    public void step(StepMetrics m) {
        if (m.skipped() || m.partial()) {
            endLine();
            out.println("step " + m.step() + (m.skipped() ? ": non-finite gradient, step skipped" : ": non-finite gradient, step applied partially"));
        }
        out.print("\r" + render(m));
        out.flush();
        midLine = true;
    }

    @Override
    public void evaluated(EvalMetrics m) {
        endLine();
        out.println(String.format(Locale.ROOT, "validation after step %d: loss %.4f perplexity %.3f (%d tokens)",
                m.step(), m.loss(), m.perplexity(), m.tokens()));
    }

    @Override
    public void checkpointFailed(long step, java.nio.file.Path file, org.qft4j.checkpoint.CheckpointException cause, boolean stopping) {
        endLine();
        out.println("checkpoint of step " + step + " not saved" + (stopping ? ", stopping: " : ", training continues: ") + cause.getMessage());
    }

    private void endLine() {
        if (midLine) out.println();
        midLine = false;
    }
}
