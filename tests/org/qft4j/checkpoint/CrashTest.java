package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CI-sized crash test (10 SIGKILLs); bench/crash-test.sh runs the same harness with 100 or more. */
class CrashTest {
    @Test
    void everyKillLeavesTheLastReportedSaveValidAndBitExact(@TempDir Path dir) throws Exception {
        CrashHarness.Result r = CrashHarness.run(dir.resolve("ckpt"), 10, 20261122L, 2, System.out);
        System.out.println("crash test: " + r);
        assertEquals(10, r.kills);
        assertTrue(r.saves > 0 && r.finalStep > 0, "the child never completed a save: " + r);
    }

    @Test
    void theReplayedStateMatchesASaveAndLoadOfTheSameRun(@TempDir Path dir) throws Exception {
        SyntheticTraining t = new SyntheticTraining();
        for (int i = 0; i < 3; i++) t.step();
        CheckpointStore store = CheckpointStore.open(dir);
        store.save(t.step, t.tensors(), java.util.Map.of());
        SyntheticTraining loaded = SyntheticTraining.from(store.latestValid(SyntheticTraining.SCHEMA).orElseThrow());
        assertTrue(loaded.sameStateAs(t));
        t.step();
        assertTrue(!loaded.sameStateAs(t), "a different step must compare unequal, or the crash test proves nothing");
        loaded.step();
        assertTrue(loaded.sameStateAs(t), "resumed training continues bit-exactly");
    }
}
