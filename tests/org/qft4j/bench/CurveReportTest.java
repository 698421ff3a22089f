package org.qft4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.train.LossPlot;

/** The summary table and the several-run plot read the logs both sides write. */
class CurveReportTest {
    @TempDir
    Path dir;

    /** steps lines; loss = start - 0.01 step; val_loss every 10 steps = loss + 0.5. */
    private Path log(String name, int steps, double start) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int s = 1; s <= steps; s++) {
            double loss = start - 0.01 * s;
            lines.add(String.format(Locale.ROOT, "{\"step\": %d, \"loss\": %s, \"lr\": 1e-4%s}", s, loss,
                    s % 10 == 0 ? String.format(Locale.ROOT, ", \"val_loss\": %s", loss + 0.5) : ""));
        }
        Path f = dir.resolve(name);
        Files.write(f, lines);
        return f;
    }

    @Test
    void summaryAndGapsComeFromTheLogs() throws IOException {
        CurveReport.Summary ref = CurveReport.summarize("adamw", log("a.jsonl", 100, 10)), qft = CurveReport.summarize("qft", log("q.jsonl", 100, 11));
        assertEquals(100, ref.steps());
        assertEquals(9.0, ref.finalLoss(), 1e-9);
        assertEquals(10 - 0.01 * 75.5, ref.meanLast(), 1e-9, "mean over steps 51..100");
        assertEquals(50, ref.meanOver());
        assertEquals(9.5, ref.lastVal(), 1e-9);
        String t = CurveReport.table(List.of(ref, qft));
        // (9.245 + 1 - 9.245) / 9.245 = +10.82%; val: 1 / 9.5 = +10.53%.
        assertTrue(t.contains("| qft | 100 | 10.0000 | 10.2450 | +10.82% | 10.5000 | +10.53% |"), t);
        assertTrue(t.contains("| adamw | 100 | 9.0000 | 9.2450 | - | 9.5000 | - |"), t);
        Path empty = dir.resolve("e.jsonl");
        Files.writeString(empty, "{\"step\": 0, \"val_loss\": 3.0}\n");
        assertThrows(IllegalArgumentException.class, () -> CurveReport.summarize("e", empty));
    }

    @Test
    void lossPlotDrawsEachNamedRunInItsColour() throws IOException {
        Path png = dir.resolve("curves.png");
        LossPlot.main(new String[] {"--out", png.toString(), "--title", "two runs", "adamw=" + log("a.jsonl", 100, 10), "qft=" + log("q.jsonl", 100, 11)});
        BufferedImage img = ImageIO.read(png.toFile());
        int blue = 0, orange = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xFFFFFF;
                if (rgb == 0x1F77B4) blue++;
                if (rgb == 0xFF7F0E) orange++;
            }
        assertTrue(blue > 300 && orange > 300, "each run's curve drawn: blue " + blue + ", orange " + orange);
        Path bad = dir.resolve("bad.jsonl");
        Files.writeString(bad, "{\"loss\": 3.0}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LossPlot("x").addRun("bad", bad));
        assertTrue(e.getMessage().contains("bad.jsonl:1") && e.getMessage().contains("step"), e.getMessage());
    }
}
