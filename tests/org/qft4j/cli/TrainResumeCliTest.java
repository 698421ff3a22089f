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

    /**
     * A real rename failure: a non-empty directory stands where step 4's checkpoint goes. --on-save-failure stop ends
     * the run there (exit 1, no exports, step 2's checkpoint intact, no partial file); the default continues and
     * saves again at step 6.
     */
    @Test
    void onSaveFailureStopsOrContinues(@TempDir Path dir) throws Exception {
        TrainCommandsTest.Fixture f = TrainCommandsTest.Fixture.write(dir);
        for (String policy : List.of("stop", "continue")) {
            Path out = dir.resolve(policy), ckpt = out.resolve("checkpoints");
            Path blocker = ckpt.resolve("ckpt-000000000004.safetensors");
            Files.createDirectories(blocker);
            Files.writeString(blocker.resolve("keep"), "a directory where the checkpoint of step 4 would go");
            MainTest.Result r = MainTest.run("train", "--model", f.model().toString(), "--data", f.text().toString(), "--steps", "6",
                    "--batch", "2", "--seq", "32", "--save-every", "2", "--keep", "5", "--on-save-failure", policy, "--out", out.toString());
            List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
            String failed = metrics.stream().filter(l -> l.contains("\"event\":\"checkpoint_failed\"")).findFirst().orElse("none");
            assertTrue(failed.contains("\"step\":4") && failed.contains(blocker.toString()), String.join("\n", metrics));
            try (var s = Files.list(ckpt)) {
                assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no partial checkpoint left");
            }
            assertTrue(Files.isRegularFile(ckpt.resolve("ckpt-000000000002.safetensors")));
            if (policy.equals("stop")) {
                assertEquals(1, r.status, r.out + r.err);
                assertTrue(r.err.contains("training stopped after step 4") && r.err.contains(blocker.toString())
                        && r.err.contains("the previous checkpoint (step 2) is intact"), r.err);
                assertTrue(failed.contains("\"stopping\":true"), failed);
                assertTrue(!Files.exists(out.resolve("model.bin")) && !Files.exists(ckpt.resolve("ckpt-000000000006.safetensors")));
            } else {
                assertEquals(0, r.status, r.out + r.err);
                assertTrue(r.out.contains("checkpoint of step 4 not saved, training continues: ") && r.out.contains(blocker.toString()), r.out);
                assertTrue(failed.contains("\"stopping\":false"), failed);
                assertTrue(Files.isRegularFile(ckpt.resolve("ckpt-000000000006.safetensors")) && Files.exists(out.resolve("model.bin")));
            }
        }
        MainTest.Result bad = MainTest.run("train", "--on-save-failure", "retry");
        assertEquals(2, bad.status);
        assertTrue(bad.err.contains("--on-save-failure: use continue or stop, got 'retry'"), bad.err);
    }
}
