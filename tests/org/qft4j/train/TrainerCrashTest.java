package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.checkpoint.CrashHarness;

/**
 * The crash test on the real trainer, CI size (5 SIGKILLs at random moments of a child JVM training the tiny model
 * with a checkpoint every step); bench/crash-test.sh N trainer runs the same with N kills.
 */
class TrainerCrashTest {
    @Test
    void everyKillLeavesTheLastReportedSaveValidAndResumable(@TempDir Path out) throws Exception {
        Path dir = Trainer.checkpointDirectory(out);
        try (TrainerCrash subject = new TrainerCrash(dir, 1)) {
            CrashHarness.Result r = CrashHarness.run(dir, 5, 20261123L, subject, System.out);
            System.out.println("trainer crash test: " + r);
            assertEquals(5, r.kills);
            assertTrue(r.saves > 0 && r.finalStep > 0, "the child never completed a save: " + r);
        }
    }
}
