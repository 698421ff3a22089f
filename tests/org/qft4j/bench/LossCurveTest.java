package org.qft4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.Device;
import org.qft4j.checkpoint.Json;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.Int8Backward;
import org.qft4j.llama.device.OutlierProducts;
import org.qft4j.tensor.MemoryStats;
import org.qft4j.train.LrSchedule;
import org.qft4j.train.TokenFile;
import org.qft4j.train.UpdatePolicy;

/** The CI guard of the token-file mode: two steps of the tiny shape on the CPU from token files written here. */
class LossCurveTest {
    @TempDir
    Path dir;

    private Path tokens(String name, int n, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i % 7 == 0 ? 3 : r.nextInt(512); // a little structure: every 7th token is 3
        Path f = dir.resolve(name);
        TokenFile.write(f, t);
        return f;
    }

    private LossCurve.Options options(LossCurve.Optimizer opt, Path log) throws IOException {
        return new LossCurve.Options(TrainBench.Shape.TINY, Device.CPU, UpdatePolicy.STASH, opt, 2, 16, 2, tokens("train.i32", 400, 1),
                tokens("val.i32", 100, 2), log, 1e-3, 1, 0.1, 0.1, 1, 4, Int8Backward.BackwardMatmuls.FP32, Fp32Math.FP32, OutlierProducts.FP32_SPARSE, 5);
    }

    @Test
    void everyOptimizerLogsEachStepWithValidation() throws Exception {
        for (LossCurve.Optimizer opt : LossCurve.Optimizer.values()) {
            long liveBefore = MemoryStats.of(Device.CPU).liveBytes();
            Path log = dir.resolve(opt.label + ".jsonl");
            Map<String, Object> r = LossCurve.run(options(opt, log));
            assertEquals(liveBefore, MemoryStats.of(Device.CPU).liveBytes(), opt + ": native memory left after the run");
            List<String> lines = Files.readAllLines(log);
            assertEquals(2, lines.size(), opt + ": " + lines);
            LrSchedule schedule = new LrSchedule(1e-3, 1, 2, 0.1);
            for (int s = 1; s <= 2; s++) {
                Map<?, ?> m = (Map<?, ?>) Json.parse(lines.get(s - 1));
                assertEquals((long) s, m.get("step"), lines.get(s - 1));
                double loss = ((Number) m.get("loss")).doubleValue(), val = ((Number) m.get("val_loss")).doubleValue();
                assertTrue(Double.isFinite(loss) && Math.abs(loss - Math.log(512)) < 1.0, opt + " step " + s + ": loss " + loss);
                assertTrue(Double.isFinite(val) && Math.abs(val - Math.log(512)) < 1.0, opt + " step " + s + ": val_loss " + val);
                assertEquals(schedule.at(s), ((Number) m.get("lr")).doubleValue(), 1e-12, lines.get(s - 1));
            }
            assertEquals(24, r.get("train_windows"), "(400 - 1) / 16");
            assertEquals(4, r.get("val_windows"));
            assertEquals(((Number) ((Map<?, ?>) Json.parse(lines.get(1))).get("val_loss")).doubleValue(), (Double) r.get("final_val_loss"), 1e-4);
        }
    }

    @Test
    void theCommandLineRunsTheTokenMode() throws Exception {
        Path train = tokens("t.i32", 400, 1), val = tokens("v.i32", 100, 2), log = dir.resolve("cli.jsonl");
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            TrainBench.main(new String[] {"--tokens", train.toString(), "--val-tokens", val.toString(), "--log", log.toString(), "--model", "tiny",
                    "--batch", "2", "--seq", "16", "--steps", "2", "--lr-warmup", "0", "--eval-every", "2", "--val-windows", "2"});
        } finally {
            System.setOut(old);
        }
        Map<?, ?> r = (Map<?, ?>) Json.parse(out.toString(StandardCharsets.UTF_8).strip());
        assertEquals("qft-lion-stash", r.get("mode"));
        assertEquals(1.0e-4, ((Number) r.get("lr")).doubleValue(), "Lion's default lr: AdamW's 6e-4 / 6");
        List<String> lines = Files.readAllLines(log);
        assertFalse(lines.get(0).contains("val_loss"), "validation every 2 steps: " + lines.get(0));
        assertTrue(lines.get(1).contains("val_loss"), lines.get(1));
    }

    @Test
    void fp32UpdatesAreTorchsAdamWAndLion() {
        // By hand: w 1, gradient 0.5 then -0.5, lr 0.1, weight decay 0.1. AdamW (0.9, 0.95), step 1: m 0.05, v 0.0125,
        // m^ 0.5, v^ 0.25: w = 0.99 - 0.1 * 0.5 / 0.5 = 0.89; step 2: m -0.005, v 0.024375, m^ -0.005/0.19, v^ 0.25:
        // w = 0.89 * 0.99 + 0.1 * 0.0263158 / 0.5 = 0.8863632.
        float[] w = {1f}, m = {0f}, v = {0f};
        Fp32Baseline.adamw(w, new float[] {0.5f}, 1f, m, v, 0.1, 0.9, 0.95, 0.1, 1);
        assertEquals(0.89, w[0], 1e-6);
        Fp32Baseline.adamw(w, new float[] {-0.5f}, 1f, m, v, 0.1, 0.9, 0.95, 0.1, 2);
        assertEquals(0.8863632, w[0], 1e-6);
        // Lion (0.9, 0.99): step 1: sign(0.05) = 1, w = 0.99 - 0.1 = 0.89, m = 0.005; step 2: sign(0.0045 - 0.05) = -1,
        // w = 0.89 * 0.99 + 0.1 = 0.9811, m = 0.00495 - 0.005. Clip 0.5 halves the gradient: m = 0.0025 after step 1.
        float[] lw = {1f}, lm = {0f};
        Fp32Baseline.lion(lw, new float[] {0.5f}, 1f, lm, 0.1, 0.9, 0.99, 0.1);
        assertEquals(0.89, lw[0], 1e-6);
        assertEquals(0.005, lm[0], 1e-9);
        Fp32Baseline.lion(lw, new float[] {-0.5f}, 1f, lm, 0.1, 0.9, 0.99, 0.1);
        assertEquals(0.9811, lw[0], 1e-6);
        assertEquals(-0.00005, lm[0], 1e-9);
        float[] cw = {1f}, cm = {0f};
        Fp32Baseline.lion(cw, new float[] {0.5f}, 0.5f, cm, 0.1, 0.9, 0.99, 0.1);
        assertEquals(0.0025, cm[0], 1e-9);
    }

    @Test
    void optionsNameWhatIsWrong() {
        Path f = dir.resolve("x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LossCurve.Options(TrainBench.Shape.TINY, Device.CPU,
                UpdatePolicy.STASH, LossCurve.Optimizer.QFT, 4, 16, 2, f, f, f, 1e-3, 1, 0.1, 0.1, 1, 6, Int8Backward.BackwardMatmuls.FP32, Fp32Math.FP32, OutlierProducts.FP32_SPARSE, 1));
        assertTrue(e.getMessage().contains("val-windows 6") && e.getMessage().contains("batch 4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LossCurve.Options.parse(new String[] {"--model", "tiny", "--tokens", "a", "--log", "b", "--lr-warmup", "400"}));
        assertTrue(e.getMessage().contains("lr-warmup 400 of 300 steps"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LossCurve.Options.parse(new String[] {"--model", "tiny", "--optimizer", "sgd"}));
        assertTrue(e.getMessage().contains("sgd"), e.getMessage());
    }
}
