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
import javax.imageio.ImageIO;

/**
 * Collects training and validation loss and draws them against the step as a PNG (headless AWT: an image,
 * never a window). Training loss is drawn raw (light) and as a running mean (dark); validation as points.
 */
public final class LossPlot implements TrainListener {
    private static final int W = 800, H = 480, LEFT = 70, RIGHT = 20, TOP = 40, BOTTOM = 50;
    private static final Color TRAIN = new Color(31, 119, 180), TRAIN_RAW = new Color(174, 199, 232), VAL = new Color(214, 39, 40);
    private final List<double[]> train = new ArrayList<>();
    private final List<double[]> validation = new ArrayList<>();
    private final String title;

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

    public BufferedImage render() {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, W, H);
            double maxX = 1, minY = Double.MAX_VALUE, maxY = -Double.MAX_VALUE;
            for (List<double[]> s : List.of(train, validation))
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
