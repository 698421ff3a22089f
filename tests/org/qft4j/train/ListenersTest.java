package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.checkpoint.Json;

class ListenersTest {
    static StepMetrics step(int s, double loss) {
        return new StepMetrics(s, 40, loss, 1e-4, 0.8, false, false, 512L * s, 1000, s * 0.5, 300L << 20);
    }

    @Test
    void progressBarShowsStepLossSpeedEtaAndMemory() {
        String line = ProgressBar.render(step(10, 2.34567));
        assertEquals("[######..................] 10/40 loss 2.3457 lr 1.0e-04 1000 tok/s ETA 0:15 mem 300 MB", line);
        assertEquals("1:01:01", ProgressBar.clock(3661));
        assertEquals("-:--", ProgressBar.clock(Double.NaN));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(buf, true, StandardCharsets.UTF_8));
        bar.step(step(1, 3));
        bar.step(new StepMetrics(2, 40, Double.NaN, 1e-4, Double.NaN, true, false, 1024, 1000, 1, 0));
        bar.evaluated(new EvalMetrics(2, Math.log(20), 100));
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("\r[#"), out);
        assertTrue(out.contains("\nstep 2: non-finite gradient, step skipped\n"), out);
        assertTrue(out.contains("\nvalidation after step 2: loss 2.9957 perplexity 20.000 (100 tokens)\n"), out);
    }

    @Test
    void metricsAreOneJsonObjectPerLine(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("m/metrics.jsonl");
        try (MetricsJsonl m = new MetricsJsonl(f)) {
            m.started(TrainConfig.builder().build(), 123, 10, 2);
            m.evaluated(new EvalMetrics(0, 2.0, 50));
            m.step(step(1, 1.5));
            m.step(new StepMetrics(2, 40, 1.4, 1e-4, Double.NaN, true, false, 1024, 1000, 1, 0));
            m.finished(new EvalMetrics(0, 2.0, 50), new EvalMetrics(2, 1.0, 50));
        }
        List<String> lines = Files.readAllLines(f);
        assertEquals(5, lines.size());
        List<Map<?, ?>> objs = lines.stream().<Map<?, ?>>map(ListenersTest::parse).toList();
        assertEquals("start", objs.get(0).get("event"));
        assertEquals(123L, objs.get(0).get("parameters"));
        assertEquals(Math.exp(2.0), (Double) objs.get(1).get("perplexity"), 1e-4);
        assertEquals(1.5, objs.get(2).get("loss"));
        assertEquals(512L, objs.get(2).get("tokens"));
        assertEquals(Json.NULL, objs.get(3).get("grad_norm"));
        assertEquals(true, objs.get(3).get("skipped"));
        assertEquals(Math.exp(1.0), (Double) objs.get(4).get("perplexity_after"), 1e-4);
    }

    private static Map<?, ?> parse(String line) {
        try {
            return (Map<?, ?>) Json.parse(line);
        } catch (Json.ParseException e) {
            throw new AssertionError("not JSON: " + line, e);
        }
    }

    @Test
    void lossPlotDrawsBothCurvesIntoAPng(@TempDir Path dir) throws IOException {
        LossPlot plot = new LossPlot("test run");
        plot.evaluated(new EvalMetrics(0, 3.0, 10));
        for (int s = 1; s <= 100; s++) plot.step(step(s, 3.0 - s * 0.015 + 0.1 * Math.sin(s)));
        plot.evaluated(new EvalMetrics(50, 2.4, 10));
        plot.evaluated(new EvalMetrics(100, 1.7, 10));
        Path f = dir.resolve("loss.png");
        plot.writePng(f);
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(800, img.getWidth());
        int red = 0, blue = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xFFFFFF;
                if (rgb == 0xD62728) red++;
                if (rgb == 0x1F77B4) blue++;
            }
        assertTrue(red > 50, "validation points drawn: " + red);
        assertTrue(blue > 50, "training curve drawn: " + blue);
        // The curve goes down: the mean height of the training color in the left tenth is above that of the right tenth.
        assertNotEquals(meanY(img, 70, 140), meanY(img, 700, 780));
        assertTrue(meanY(img, 75, 140) < meanY(img, 700, 775));
    }

    static double meanY(BufferedImage img, int x0, int x1) {
        double sum = 0;
        int n = 0;
        for (int x = x0; x < x1; x++)
            for (int y = 0; y < img.getHeight(); y++)
                if ((img.getRGB(x, y) & 0xFFFFFF) == 0x1F77B4) {
                    sum += y;
                    n++;
                }
        return n == 0 ? Double.NaN : sum / n;
    }
}
