package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.qft4j.tensor.DType;

/**
 * Fuzzes the checkpoint loader: whatever the bytes, it returns a valid checkpoint or throws
 * {@link CheckpointException}; never another exception, never an out-of-memory error from a size in
 * the header. Under plain {@code mvn verify} Jazzer replays the committed corpus in
 * tests/resources/org/qft4j/checkpoint/CheckpointFuzzTestInputs; {@code JAZZER_FUZZ=1} fuzzes,
 * starting from it (the seeds are real checkpoints written by {@link TestCheckpoints}).
 */
class CheckpointFuzzTest {
    private static final CheckpointSchema SCHEMA = CheckpointSchema.ANY.require("w", DType.F32, 2, 3);

    /**
     * Loads the input as it is, then with its checksum repaired: a mutation almost never keeps the
     * CRC32C right, and without the repair the fuzzer would not get past the checksum to the version,
     * schema and non-finite checks behind it.
     */
    @FuzzTest
    void loaderThrowsOnlyCheckpointException(byte[] input) {
        loadAndCheck(input);
        byte[] repaired = withRepairedChecksum(input);
        if (repaired != null) loadAndCheck(repaired);
    }

    private static void loadAndCheck(byte[] input) {
        Checkpoint c;
        try {
            c = Checkpoint.load(ByteBuffer.wrap(input), SCHEMA);
        } catch (CheckpointException expected) {
            return;
        }
        // Accepted: every promise of the validation must hold.
        long total = 0;
        for (TensorBuffer t : c.tensors().values()) {
            assertEquals(t.byteSize(), t.toBytes().length);
            assertEquals(-1, t.firstNonFinite());
            total += t.byteSize();
        }
        long header = ByteBuffer.wrap(input).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(input.length, 8 + header + total, "tensors cover the data buffer exactly");
        assertEquals(6, c.tensor("w").toFloats().length);
    }

    /** The input with the checksum digits the writer would have stored, or null when it has no checksum entry. */
    static byte[] withRepairedChecksum(byte[] input) {
        byte[] prefix = Safetensors.CRC_PREFIX.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int at = 8 + prefix.length;
        if (input.length < at + 8 || !Arrays.equals(input, 8, at, prefix, 0, prefix.length)) return null;
        byte[] b = input.clone();
        Arrays.fill(b, at, at + 8, (byte) '0');
        CRC32C crc = new CRC32C();
        crc.update(b);
        System.arraycopy(String.format("%08x", crc.getValue()).getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, b, at, 8);
        return b;
    }

    @Test
    void theChecksumRepairReproducesTheWritersChecksum() throws Exception {
        byte[] valid = TestCheckpoints.validCheckpoint();
        assertArrayEquals(valid, withRepairedChecksum(valid));
        byte[] flipped = valid.clone();
        flipped[flipped.length - 1] ^= 0x01; // the last byte of the fp32 scalar: still finite
        assertThrows(CheckpointException.class, () -> Checkpoint.load(ByteBuffer.wrap(flipped), CheckpointSchema.ANY));
        Checkpoint c = Checkpoint.load(ByteBuffer.wrap(withRepairedChecksum(flipped)), CheckpointSchema.ANY);
        assertEquals(Float.intBitsToFloat(Float.floatToRawIntBits(0.5f) ^ 0x01000000), c.tensor("scalar").toFloats()[0]);
    }

    /** The shared llama2.c model and tokenizer, whole and cut, are not checkpoints and must say so. */
    @Test
    void foreignFilesAreRejectedWithCheckpointException() throws Exception {
        String shared = System.getProperty("qft4j.shared");
        Path dir = shared == null ? null : Path.of(shared, "models", "stories260K");
        Assumptions.assumeTrue(dir != null && Files.isDirectory(dir), "../shared/models/stories260K is absent");
        for (String name : new String[] {"stories260K.bin", "stories260K_q8.bin", "tok512.bin"}) {
            byte[] all = Files.readAllBytes(dir.resolve(name));
            for (int cut : new int[] {0, 1, 7, 8, 9, 64, all.length / 2, all.length}) {
                byte[] prefix = java.util.Arrays.copyOf(all, Math.min(cut, all.length));
                assertThrows(CheckpointException.class, () -> Checkpoint.load(ByteBuffer.wrap(prefix), SCHEMA), name + " cut at " + cut);
            }
            assertThrows(CheckpointException.class, () -> Checkpoint.load(dir.resolve(name), SCHEMA), name);
        }
    }

    /** Writes the seed corpus: real checkpoints and near misses. Run by hand when the format changes. */
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        Files.write(out.resolve("valid-checkpoint"), TestCheckpoints.validCheckpoint());
        Files.write(out.resolve("plain-safetensors"), TestCheckpoints.write(Map.of("w", TensorBuffer.ofFloats(new float[6], 2, 3)), Map.of()));
        Files.write(out.resolve("small-checkpoint"), TestCheckpoints.write(Map.of("w", TensorBuffer.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)),
                TestCheckpoints.checkpointMetadata(1)));
        Files.write(out.resolve("no-checksum"), TestCheckpoints.raw("{\"__metadata__\":{\"qft4j.format_version\":\"1\",\"qft4j.step\":\"2\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", new byte[24]));
    }
}
