package org.qft4j.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.qft4j.checkpoint.Json;

/**
 * Collects training and validation loss and draws them against the step as a PNG (headless AWT: an image,
 * never a window). One run (fed as a {@link TrainListener}): training loss raw (light) and as a running mean (dark),
 * validation as points. Several named runs ({@link #addRun}, from JSONL logs): each run's running mean as a solid line
 * and its validation as a dashed line with points, in the run's colour.
 */
public final class LossPlot implements TrainListener {
    private static final int W = 800, H = 480, LEFT = 70, RIGHT = 20, TOP = 40, BOTTOM = 50;
    private static final Color TRAIN = new Color(31, 119, 180), TRAIN_RAW = new Color(174, 199, 232), VAL = new Color(214, 39, 40);
    /** Colours of named runs, in the order they are added (matplotlib's tab10). */
    private static final Color[] RUNS = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(148, 103, 189)};
    private final List<double[]> train = new ArrayList<>();       // (step, loss) of the listened run
    private final List<double[]> validation = new ArrayList<>();
    private final List<Run> runs = new ArrayList<>();
    private final String title;

    /** A named run: its training and validation points (step, loss). */
    private record Run(String name, List<double[]> train, List<double[]> validation) {}

    public LossPlot(String title) {
        this.title = title;
    }

    @Override
    public void step(StepMetrics m) {
        if (Double.isFinite(m.loss())) train.add(new double[] {m.step(), m.loss()});
    }

    @Override
    public void evaluated(EvalMetrics m) {
        if (Double.isFinite(m.loss())) validation.add(new double[] {m.step(), m.loss()});
    }

    /**
     * Draws named runs from their JSONL logs into a PNG:
     * {@code java ... org.qft4j.train.LossPlot --out curves.png --title TITLE NAME=LOG.jsonl...} (at most four runs).
     */
    public static void main(String[] args) {
        Path out = null;
        String title = "loss";
        List<String[]> named = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if ((args[i].equals("--out") || args[i].equals("--title")) && i + 1 < args.length) {
                if (args[i].equals("--out")) out = Path.of(args[++i]);
                else title = args[++i];
            } else if (args[i].indexOf('=') > 0) {
                named.add(new String[] {args[i].substring(0, args[i].indexOf('=')), args[i].substring(args[i].indexOf('=') + 1)});
            } else {
                throw new IllegalArgumentException("LossPlot: expected --out FILE, --title TEXT or NAME=LOG.jsonl, got " + args[i]);
            }
        }
        if (out == null || named.isEmpty()) throw new IllegalArgumentException("usage: LossPlot --out FILE.png [--title TEXT] NAME=LOG.jsonl...");
        LossPlot plot = new LossPlot(title);
        for (String[] n : named) plot.addRun(n[0], Path.of(n[1]));
        plot.writePng(out);
    }

    /**
     * Adds a named run read from a JSONL log, one object per line with "step" and "loss" and/or "val_loss" (as
     * TrainBench --tokens and the PyTorch peer write them); null or missing values are left out.
     */
    public LossPlot addRun(String name, Path jsonl) {
        if (runs.size() == RUNS.length) throw new IllegalArgumentException("LossPlot draws at most " + RUNS.length + " named runs; " + name + " is one more");
        List<double[]> t = new ArrayList<>(), v = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(jsonl);
        } catch (IOException e) {
            throw new UncheckedIOException("reading loss log " + jsonl, e);
        }
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            Map<?, ?> m;
            try {
                if (!(Json.parse(lines.get(i)) instanceof Map<?, ?> o)) throw new IllegalArgumentException(jsonl + ":" + (i + 1) + ": not a JSON object");
                m = o;
            } catch (Json.ParseException e) {
                throw new IllegalArgumentException(jsonl + ":" + (i + 1) + ": not valid JSON: " + e.getMessage(), e);
            }
            if (!(m.get("step") instanceof Number step)) throw new IllegalArgumentException(jsonl + ":" + (i + 1) + ": no numeric \"step\"");
            if (m.get("loss") instanceof Number loss && Double.isFinite(loss.doubleValue())) t.add(new double[] {step.doubleValue(), loss.doubleValue()});
            if (m.get("val_loss") instanceof Number val && Double.isFinite(val.doubleValue())) v.add(new double[] {step.doubleValue(), val.doubleValue()});
        }
        if (t.isEmpty() && v.isEmpty()) throw new IllegalArgumentException(jsonl + " holds no finite \"loss\" or \"val_loss\"");
        runs.add(new Run(name, t, v));
        return this;
    }

    public BufferedImage render() {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, W, H);
            List<List<double[]>> drawn = new ArrayList<>(List.of(train, validation));
            for (Run r : runs) {
                drawn.add(runningMean(r.train, window(r.train)));
                drawn.add(r.validation);
            }
            double maxX = 1, minY = Double.MAX_VALUE, maxY = -Double.MAX_VALUE;
            for (List<double[]> s : drawn)
                for (double[] p : s) {
                    maxX = Math.max(maxX, p[0]);
                    minY = Math.min(minY, p[1]);
                    maxY = Math.max(maxY, p[1]);
                }
            if (minY > maxY) {
                minY = 0;
                maxY = 1;
            }
            double pad = Math.max(1e-3, (maxY - minY) * 0.05);
            minY -= pad;
            maxY += pad;
            Axes a = new Axes(maxX, minY, maxY);
            drawAxes(g, a);
            if (!train.isEmpty() || !validation.isEmpty()) {
                g.setStroke(new BasicStroke(1f));
                g.setColor(TRAIN_RAW);
                g.draw(line(train, a));
                g.setStroke(new BasicStroke(2f));
                g.setColor(TRAIN);
                g.draw(line(runningMean(train, Math.max(1, train.size() / 50)), a));
                g.setColor(VAL);
                g.draw(line(validation, a));
                for (double[] p : validation) g.fillOval(a.x(p[0]) - 4, a.y(p[1]) - 4, 8, 8);
                legend(g);
            }
            for (int i = 0; i < runs.size(); i++) {
                Run r = runs.get(i);
                g.setColor(RUNS[i]);
                g.setStroke(new BasicStroke(2f));
                g.draw(line(runningMean(r.train, window(r.train)), a));
                g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
                g.draw(line(r.validation, a));
                for (double[] p : r.validation) g.fillOval(a.x(p[0]) - 4, a.y(p[1]) - 4, 8, 8);
                runLegend(g, i, runs.size(), r);
            }
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
            g.drawString(title, LEFT, 24);
        } finally {
            g.dispose();
        }
        return img;
    }

    public void writePng(Path file) {
        try {
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            if (!ImageIO.write(render(), "png", file.toFile())) throw new IllegalStateException("no PNG writer in this JVM");
        } catch (IOException e) {
            throw new UncheckedIOException("writing plot " + file, e);
        }
    }

    private record Axes(double maxX, double minY, double maxY) {
        int x(double step) { return LEFT + (int) Math.round(step / maxX * (W - LEFT - RIGHT)); }
        int y(double loss) { return H - BOTTOM - (int) Math.round((loss - minY) / (maxY - minY) * (H - TOP - BOTTOM)); }
    }

    private static void drawAxes(Graphics2D g, Axes a) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 5; i++) {
            double loss = a.minY + (a.maxY - a.minY) * i / 5, step = a.maxX * i / 5;
            g.setColor(new Color(230, 230, 230));
            g.drawLine(LEFT, a.y(loss), W - RIGHT, a.y(loss));
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.3f", loss), 8, a.y(loss) + 4);
            String s = String.valueOf(Math.round(step));
            g.drawString(s, a.x(step) - g.getFontMetrics().stringWidth(s) / 2, H - BOTTOM + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
        g.drawString("step", W / 2, H - 12);
        g.drawString("loss (nats/token)", LEFT, TOP - 4);
    }

    private static void legend(Graphics2D g) {
        int x = W - RIGHT - 190, y = TOP + 18;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(TRAIN);
        g.fillRect(x, y - 8, 20, 3);
        g.drawString("train (running mean)", x + 28, y - 3);
        g.setColor(VAL);
        g.fillOval(x + 6, y + 8, 8, 8);
        g.drawString("validation", x + 28, y + 16);
    }

    /** Running-mean window of a named run's training loss: about a twentieth of its steps. */
    private static int window(List<double[]> pts) {
        return Math.max(1, pts.size() / 20);
    }

    /** Bottom left, where falling loss curves leave room. */
    private static void runLegend(Graphics2D g, int i, int count, Run r) {
        int x = LEFT + 12, y = H - BOTTOM - 36 * (count - i) + 10;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(RUNS[i]);
        g.fillRect(x, y - 8, 20, 3);
        g.drawString(r.name + " train (running mean of " + window(r.train) + ")", x + 28, y - 3);
        g.fillOval(x + 6, y + 8, 8, 8);
        g.drawString(r.name + " validation", x + 28, y + 16);
    }

    private static Path2D line(List<double[]> pts, Axes a) {
        Path2D.Double p = new Path2D.Double();
        for (int i = 0; i < pts.size(); i++) {
            double[] q = pts.get(i);
            if (i == 0) p.moveTo(a.x(q[0]), a.y(q[1]));
            else p.lineTo(a.x(q[0]), a.y(q[1]));
        }
        return p;
    }

    private static List<double[]> runningMean(List<double[]> pts, int window) {
        List<double[]> out = new ArrayList<>();
        double sum = 0;
        for (int i = 0; i < pts.size(); i++) {
            sum += pts.get(i)[1];
            if (i >= window) sum -= pts.get(i - window)[1];
            out.add(new double[] {pts.get(i)[0], sum / Math.min(i + 1, window)});
        }
        return out;
    }
}
