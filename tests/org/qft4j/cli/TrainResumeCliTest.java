package org.qft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train} checkpoints, resumes its own run (or --resume DIR), refuses another config's, and its exports evaluate. */
class TrainResumeCliTest {
    @Test
    void trainResumesItsRunAndItsExportsEvaluate(@TempDir Path dir) throws Exception {
        TrainCommandsTest.Fixture f = TrainCommandsTest.Fixture.write(dir);
        Path model = f.model(), text = f.text();
        Path out = dir.resolve("run");
        List<String> args = new ArrayList<>(List.of("train", "--model", model.toString(), "--data", text.toString(), "--steps", "4",
                "--batch", "2", "--seq", "32", "--lr", "3e-3", "--save-every", "2", "--keep", "2", "--out", out.toString()));
        MainTest.Result r = MainTest.run(args.toArray(String[]::new));
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(Files.exists(out.resolve("checkpoints/ckpt-000000000002.safetensors")), "a checkpoint every 2 steps");
        assertTrue(Files.exists(out.resolve("checkpoints/ckpt-000000000004.safetensors")), "and the final one");

        r = MainTest.run(args.toArray(String[]::new));
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(r.out.contains("resumed from ") && r.out.contains("at step 4"), r.out);

        List<String> other = new ArrayList<>(args);
        other.set(other.indexOf("3e-3"), "1e-3");
        r = MainTest.run(other.toArray(String[]::new));
        assertEquals(2, r.status, r.out + r.err);
        assertTrue(r.err.contains("cannot resume") && r.err.contains("resume with the options it was trained with"), r.err);

        other.addAll(List.of("--resume", dir.resolve("nothing").toString()));
        r = MainTest.run(other.toArray(String[]::new));
        assertEquals(2, r.status, r.out + r.err);
        assertTrue(r.err.contains("no complete checkpoint of this model and config"), r.err);

        String tok = out.resolve("tokenizer.bin").toString();
        for (String m : List.of(out.resolve("hf").toString(), out.resolve("model-int8.safetensors").toString())) {
            MainTest.Result e = MainTest.run("eval", "--model", m, "--tokenizer", tok, "--text", text.toString());
            assertEquals(0, e.status, m + ": " + e.err);
            assertTrue(e.out.contains("perplexity "), e.out);
        }
    }
}
