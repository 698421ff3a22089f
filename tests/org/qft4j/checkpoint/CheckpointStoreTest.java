package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.tensor.DType;

class CheckpointStoreTest {
    @TempDir
    Path dir;

    private static Map<String, TensorData> state(float value) {
        return Map.of("w", TensorBuffer.ofFloats(new float[] {value, -value, 2 * value}, 3),
                "m", TensorBuffer.ofBytes(DType.I8, new byte[] {(byte) value, 1}, 2));
    }

    private static final CheckpointSchema SCHEMA = CheckpointSchema.ANY.require("w", DType.F32, 3).require("m", DType.I8, 2);

    @Test
    void savesAtomicallyLoadsTheNewestAndKeepsTheLastN() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir).keepLast(2);
        for (int step = 1; step <= 5; step++) {
            CheckpointStore.SaveResult r = store.save(step * 10, state(step), Map.of("note", "step " + step));
            assertTrue(r.saved());
            assertEquals(store.fileFor(step * 10), r.file());
        }
        assertEquals(List.of(50L, 40L), store.steps());
        assertEquals(List.of("ckpt-000000000040.safetensors", "ckpt-000000000050.safetensors"), files());
        Checkpoint c = store.latestValid(SCHEMA).orElseThrow();
        assertEquals(50, c.step());
        assertEquals("step 5", c.metadata().get("note"));
        assertEquals("1", c.metadata().get(Checkpoint.VERSION_KEY));
        assertArrayEquals(new float[] {5, -5, 10}, c.tensor("w").toFloats());
    }

    @Test
    void aFullDiskAtEveryByteOfTheSaveLeavesThePreviousCheckpointIntact() throws Exception {
        CheckpointStore.open(dir).save(1, state(1), Map.of());
        long size = Files.size(dir.resolve("ckpt-000000000001.safetensors"));
        for (long n = 0; n < size; n++) {
            CheckpointStore store = CheckpointStore.open(dir, FaultyStorage.diskFullAfter(n))
                    .onSaveFailure(CheckpointStore.OnSaveFailure.CONTINUE);
            CheckpointStore.SaveResult r = store.save(2, state(2), Map.of());
            assertFalse(r.saved(), "failing after " + n + " bytes");
            assertNull(r.file());
            assertTrue(r.failure().getMessage().endsWith("saving step 2 failed: java.io.IOException: No space left on device "
                    + "(free disk space or lower keepLast); the previous checkpoint (step 1) is intact"), r.failure().getMessage());
            assertEquals(List.of("ckpt-000000000001.safetensors"), files(), "failing after " + n + " bytes");
            Checkpoint c = store.latestValid(SCHEMA).orElseThrow();
            assertEquals(1, c.step());
            assertArrayEquals(new float[] {1, -1, 2}, c.tensor("w").toFloats());
        }
    }

    @Test
    void underTheStopPolicyAFailedSaveThrowsAndStillLeavesNoPartialFile() throws Exception {
        CheckpointStore.open(dir).save(1, state(1), Map.of());
        for (FaultyStorage.Stage stage : List.of(FaultyStorage.Stage.FORCE, FaultyStorage.Stage.MOVE)) {
            CheckpointStore store = CheckpointStore.open(dir, FaultyStorage.failing(stage));
            CheckpointException e = assertThrows(CheckpointException.class, () -> store.save(2, state(2), Map.of()));
            assertTrue(e.getMessage().contains("saving step 2 failed") && e.getMessage().endsWith("the previous checkpoint (step 1) is intact"),
                    e.getMessage());
            assertEquals(List.of("ckpt-000000000001.safetensors"), files(), stage.toString());
        }
    }

    @Test
    void aFailedDirectorySyncIsReportedButTheRenamedFileIsCompleteAndValid() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir, FaultyStorage.failing(FaultyStorage.Stage.SYNC_DIRECTORY))
                .onSaveFailure(CheckpointStore.OnSaveFailure.CONTINUE);
        assertFalse(store.save(3, state(3), Map.of()).saved());
        assertEquals(3, store.latestValid(SCHEMA).orElseThrow().step());
    }

    @Test
    void latestValidSkipsCorruptAndPartialCheckpointsAndSaysWhy() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir).keepLast(10);
        for (int step = 1; step <= 4; step++) store.save(step, state(step), Map.of());
        Path four = store.fileFor(4), three = store.fileFor(3), two = store.fileFor(2);
        Files.write(four, java.util.Arrays.copyOf(Files.readAllBytes(four), 100)); // torn by a foreign copy tool
        byte[] b = Files.readAllBytes(three);
        b[b.length - 1] ^= 1; // a flipped bit in the last tensor
        Files.write(three, b);
        Files.move(store.fileFor(1), store.fileFor(9)); // right contents, wrong name
        Files.write(two, TestCheckpoints.write(state(2), TestCheckpoints.checkpointMetadata(2)));
        List<String> skipped = new ArrayList<>();
        Checkpoint c = store.latestValid(SCHEMA, e -> skipped.add(dir.relativize(e.file()) + ": " + e.getMessage().replace(e.file() + ": ", "")))
                .orElseThrow();
        assertEquals(2, c.step());
        assertEquals(3, skipped.size(), skipped.toString());
        assertTrue(skipped.get(0).startsWith("ckpt-000000000009.safetensors: metadata says step 1 but the file name says 9"), skipped.get(0));
        assertTrue(skipped.get(1).startsWith("ckpt-000000000004.safetensors: header length") && skipped.get(1).endsWith("the file is truncated"),
                skipped.get(1));
        assertTrue(skipped.get(2).startsWith("ckpt-000000000003.safetensors: checksum mismatch"), skipped.get(2));
    }

    @Test
    void aSchemaMismatchIsSkippedLikeCorruption() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir);
        store.save(1, state(1), Map.of());
        List<CheckpointException> skipped = new ArrayList<>();
        assertTrue(store.latestValid(CheckpointSchema.ANY.require("w", DType.F32, 4), skipped::add).isEmpty());
        assertEquals(1, skipped.size());
        assertTrue(CheckpointStore.open(dir.resolve("fresh")).latestValid().isEmpty());
    }

    @Test
    void openingRemovesTemporaryFilesOfSavesThatNeverCompleted() throws Exception {
        Files.write(dir.resolve(".ckpt-000000000007.safetensors.tmp"), new byte[] {1, 2, 3});
        Files.write(dir.resolve("notes.txt"), new byte[] {1});
        CheckpointStore store = CheckpointStore.open(dir);
        assertEquals(List.of("notes.txt"), files());
        assertTrue(store.latestValid().isEmpty());
    }

    @Test
    void provenanceTravelsInTheMetadataAndReservedKeysAreRefused() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir);
        Map<String, String> prov = Provenance.of("{\"dim\":64}", Provenance.sha256(new byte[] {1}), 1234);
        store.save(5, state(1), prov);
        Map<String, String> meta = store.latestValid().orElseThrow().metadata();
        for (String k : prov.keySet()) assertEquals(prov.get(k), meta.get(k), k);
        assertThrows(IllegalArgumentException.class, () -> store.save(6, state(1), Map.of(Checkpoint.STEP_KEY, "6")));
        assertThrows(IllegalArgumentException.class, () -> store.save(-1, state(1), Map.of()));
    }

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new))
                    .stream().collect(Collectors.toList());
        }
    }
}
