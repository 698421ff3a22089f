package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.qft4j.tensor.DType;

/**
 * The bad-input table: each malformed checkpoint and the exact message a user sees. The test prints
 * the table ("input | message") so that it can be quoted as it is.
 */
class BadInputTableTest {
    private static final String V1 = "\"__metadata__\":{\"qft4j.format_version\":\"1\",\"qft4j.step\":\"3\"}";
    private static final String F32_2 = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":";

    static Stream<Arguments> table() {
        byte[] valid = TestCheckpoints.validCheckpoint();
        int headerLength = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
        int dataBytes = valid.length - 8 - headerLength;

        byte[] flippedWeight = valid.clone();
        flippedWeight[8 + headerLength + 5] ^= 0x10; // inside tensor 'w'

        byte[] flippedStep = valid.clone();
        flippedStep[TestCheckpoints.header(valid).indexOf("\"qft4j.step\":\"7\"") + 8 + 14] ^= 0x01;

        byte[] flippedDtype = valid.clone();
        int f32 = TestCheckpoints.header(valid).indexOf("\"F32\"") + 8 + 3; // the '2' of F32
        flippedDtype[f32] ^= 0x01;

        byte[] nonUtf8 = TestCheckpoints.raw(bytes("{\"a\u0000\":" + F32_2 + "[0,8]}}"), new byte[8]);
        nonUtf8[8 + 3] = (byte) 0xff;

        byte[] llama2c = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(64).putInt(172).putInt(5).putInt(8).putInt(4).putInt(512).putInt(512).array();

        CheckpointSchema stateShapes = CheckpointSchema.ANY.require("w", DType.F32, 2, 3).require("codes", DType.I8, 2, 4);

        return Stream.of(
                row("empty file (0 bytes)", new byte[0], CheckpointSchema.ANY,
                        "file is 0 bytes, too short for safetensors (it starts with an 8-byte header length): the file is empty or truncated"),
                row("truncated inside the header (first 20 bytes)", Arrays.copyOf(valid, 20), CheckpointSchema.ANY,
                        "header length " + headerLength + " runs past the end of the file (20 bytes): the file is truncated"),
                row("truncated data (last 5 bytes cut)", Arrays.copyOf(valid, valid.length - 5), CheckpointSchema.ANY,
                        "tensors cover " + dataBytes + " bytes but the data buffer holds " + (dataBytes - 5) + " (file " + (valid.length - 5)
                                + " bytes, header " + headerLength + "): the file is truncated"),
                row("one flipped bit in a weight", flippedWeight, CheckpointSchema.ANY,
                        "checksum mismatch (stored crc32c " + storedCrc(valid) + ", computed " + crcOf(flippedWeight)
                                + "): the file is corrupt (a flipped bit or a torn write)"),
                row("one flipped bit in the step metadata (7 -> 6)", flippedStep, CheckpointSchema.ANY,
                        "checksum mismatch (stored crc32c " + storedCrc(valid) + ", computed " + crcOf(flippedStep)
                                + "): the file is corrupt (a flipped bit or a torn write)"),
                row("checksum entry moved (header rewritten by another tool)", TestCheckpoints.raw("{\"__metadata__\":{\"a\":\"b\","
                        + "\"qft4j.crc32c\":\"00000000\"}}", new byte[0]), CheckpointSchema.ANY,
                        "'qft4j.crc32c' is not the first header entry, where qft4j writes it: another tool rewrote the header; "
                                + "remove that entry from __metadata__ to load the file without the check"),
                row("one flipped bit in the header (dtype F32 -> F33)", flippedDtype, CheckpointSchema.ANY,
                        "tensor 'w' has dtype 'F33'; qft4j reads [F32, BF16, F16, I8, U8, I32, I64]"),
                row("overlapping offsets", TestCheckpoints.raw("{" + V1 + ",\"a\":" + F32_2 + "[0,8]},\"b\":" + F32_2 + "[4,12]}}", new byte[12]),
                        CheckpointSchema.ANY, "tensors 'a' [0, 8) and 'b' [4, 12) overlap"),
                row("gap between tensors", TestCheckpoints.raw("{" + V1 + ",\"a\":" + F32_2 + "[0,8]},\"b\":" + F32_2 + "[12,20]}}", new byte[20]),
                        CheckpointSchema.ANY,
                        "gap of 4 bytes between tensor 'a' (ends at 8) and tensor 'b' (begins at 12): tensors must be contiguous"),
                row("data not starting at offset 0", TestCheckpoints.raw("{\"a\":" + F32_2 + "[4,12]}}", new byte[12]), CheckpointSchema.ANY,
                        "the data buffer starts with 4 bytes that no tensor owns (first tensor 'a' begins at 4): offsets must start at 0"),
                row("trailing bytes after the last tensor", TestCheckpoints.raw("{\"a\":" + F32_2 + "[0,8]}}", new byte[12]), CheckpointSchema.ANY,
                        "tensors cover 8 bytes but the data buffer holds 12 (file 74 bytes, header 54): 4 trailing bytes belong to no tensor"),
                row("dtype x shape differs from the byte range", TestCheckpoints.raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                        new byte[8]), CheckpointSchema.ANY, "tensor 'a': F32[3] needs 12 bytes but data_offsets [0, 8] hold 8"),
                row("dtype x shape overflows 64 bits", TestCheckpoints.raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", new byte[8]), CheckpointSchema.ANY,
                        "tensor 'a': F32[4611686018427387904, 4] has more bytes than a 64-bit size holds"),
                row("negative offset", TestCheckpoints.raw("{\"a\":" + F32_2 + "[-1,7]}}", new byte[8]), CheckpointSchema.ANY,
                        "tensor 'a': data_offsets must be [begin, end] of non-negative integers, got [-1, 7]"),
                row("NaN in an fp32 weight", withState("w", TensorBuffer.ofFloats(new float[] {0, 1, 2, 3, Float.NaN, 5}, 2, 3)), CheckpointSchema.ANY,
                        "tensor 'w' F32[2, 3] holds NaN at element 4 [1, 1]: training had diverged when this was saved; "
                                + "resume from an earlier checkpoint"),
                row("infinity in a bf16 scale", withState("scales", TensorBuffer.ofBytes(DType.BF16, new byte[] {0, 0x3f, (byte) 0x80, 0x7f}, 2)),
                        CheckpointSchema.ANY, "tensor 'scales' BF16[2] holds infinity at element 1 [1]: training had diverged when this was saved; "
                                + "resume from an earlier checkpoint"),
                row("wrong shape for the config", valid, CheckpointSchema.ANY.require("w", DType.F32, 3, 2),
                        "tensor 'w' has shape [2, 3] but the config expects [3, 2]: the checkpoint was saved for another model config; "
                                + "resume with the config it was trained with"),
                row("wrong dtype for the config", valid, CheckpointSchema.ANY.require("codes", DType.U8, 2, 4),
                        "tensor 'codes' is I8[2, 4] but the config expects U8[2, 4]: the checkpoint was saved by another trainer setup"),
                row("tensor the config needs is missing", valid, stateShapes.require("momentum", DType.I8, 2, 4),
                        "missing 1 tensor that the config needs: 'momentum' I8[2, 4]: the checkpoint is from another model or config"),
                row("tensor the config does not have", valid, stateShapes.rejectUnknown(),
                        "unexpected tensor 'scales' that the config does not have: the checkpoint is from another model or config"),
                row("huge header length (2^62)", hugeHeader(), CheckpointSchema.ANY,
                        "header length 4611686018427387904 exceeds the 100000000-byte limit: the file is corrupt or not safetensors"),
                row("a llama2.c .bin model passed as a checkpoint", llama2c, CheckpointSchema.ANY,
                        "header length 738734374976 exceeds the 100000000-byte limit: the file is corrupt or not safetensors"),
                row("zero header length", new byte[8], CheckpointSchema.ANY,
                        "header does not start with '{' (it is empty): the file is not safetensors"),
                row("header is a JSON list", TestCheckpoints.raw("[]", new byte[0]), CheckpointSchema.ANY,
                        "header does not start with '{' (first byte 0x5b): the file is not safetensors"),
                row("header JSON cut short", TestCheckpoints.raw("{\"a\":", new byte[0]), CheckpointSchema.ANY,
                        "header is not valid JSON: unexpected end of text, expected a value at character 5"),
                row("non-UTF-8 byte in the header", nonUtf8, CheckpointSchema.ANY,
                        "header is not valid UTF-8 (byte 0xff at header offset 3): the file is corrupt"),
                row("duplicate tensor name", TestCheckpoints.raw("{\"a\":" + F32_2 + "[0,8]},\"a\":" + F32_2 + "[8,16]}}", new byte[16]),
                        CheckpointSchema.ANY, "duplicate name 'a' in the header (character 54): names must be unique"),
                row("metadata value not a string", TestCheckpoints.raw("{\"__metadata__\":{\"k\":1}}", new byte[0]), CheckpointSchema.ANY,
                        "'__metadata__' must map strings to strings; key 'k' holds a number"),
                row("unknown field in a tensor entry", TestCheckpoints.raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":0}}",
                        new byte[4]), CheckpointSchema.ANY, "tensor 'a' has unknown field 'x' (expected dtype, shape, data_offsets)"),
                row("unsupported dtype", TestCheckpoints.raw("{\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}", new byte[8]),
                        CheckpointSchema.ANY, "tensor 'a' has dtype 'F64'; qft4j reads [F32, BF16, F16, I8, U8, I32, I64]"),
                row("newer format version", TestCheckpoints.write(TestCheckpoints.sampleState(), Map.of(Checkpoint.VERSION_KEY, "2",
                        Checkpoint.STEP_KEY, "7")), CheckpointSchema.ANY,
                        "checkpoint v2, SDK reads v1: it was written by a newer qft4j; upgrade qft4j to resume it"),
                row("plain safetensors model, not a checkpoint", TestCheckpoints.write(TestCheckpoints.sampleState(), Map.of()), CheckpointSchema.ANY,
                        "no 'qft4j.format_version' in __metadata__: a safetensors file, but not a qft4j checkpoint "
                                + "(import a model with the model loader instead)"),
                row("checkpoint without its checksum (e.g. a renamed checksum key)", TestCheckpoints.raw("{" + V1 + ",\"a\":" + F32_2
                        + "[0,8]}}", new byte[8]), CheckpointSchema.ANY,
                        "no 'qft4j.crc32c' in __metadata__: the checkpoint's integrity cannot be checked (its header is corrupt or was edited)"),
                row("step missing from the metadata", TestCheckpoints.write(TestCheckpoints.sampleState(), Map.of(Checkpoint.VERSION_KEY, "1")),
                        CheckpointSchema.ANY, "'qft4j.step' is missing, not a step number: the metadata is corrupt"));
    }

    private static Arguments row(String input, byte[] file, CheckpointSchema schema, String message) {
        return Arguments.of(input, file, schema, message);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void eachBadInputGivesItsMessage(String input, byte[] file, CheckpointSchema schema, String message) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(ByteBuffer.wrap(file), schema));
        System.out.println("BAD-INPUT | " + input + " | " + e.getMessage());
        assertEquals(message, e.getMessage());
    }

    @Test
    void fromAFileTheMessageNamesTheFile(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("ckpt-000000000001.safetensors");
        Files.write(p, new byte[3]);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(p, CheckpointSchema.ANY));
        assertEquals(p, e.file());
        assertTrue(e.getMessage().startsWith(p + ": file is 3 bytes"), e.getMessage());
    }

    @Test
    void theValidCheckpointTheTableStartsFromLoads() throws Exception {
        Checkpoint c = Checkpoint.load(ByteBuffer.wrap(TestCheckpoints.validCheckpoint()),
                CheckpointSchema.ANY.require("w", DType.F32, 2, 3).require("codes", DType.I8, 2, 4));
        assertEquals(7, c.step());
    }

    private static byte[] withState(String name, TensorBuffer replacement) {
        Map<String, TensorData> state = new LinkedHashMap<>(TestCheckpoints.sampleState());
        state.put(name, replacement);
        return TestCheckpoints.write(state, TestCheckpoints.checkpointMetadata(7));
    }

    private static byte[] hugeHeader() {
        return ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 62).put((byte) '{').put((byte) '}').array();
    }

    private static String storedCrc(byte[] file) {
        String h = TestCheckpoints.header(file);
        int at = h.indexOf(Safetensors.CRC_KEY) + Safetensors.CRC_KEY.length() + 3;
        return h.substring(at, at + 8);
    }

    /** The checksum the reader computes: over the whole file, the stored digits counted as "00000000". */
    private static String crcOf(byte[] file) {
        byte[] zeroed = file.clone();
        int at = 8 + Safetensors.CRC_PREFIX.length();
        Arrays.fill(zeroed, at, at + 8, (byte) '0');
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(zeroed);
        return String.format("%08x", crc.getValue());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
