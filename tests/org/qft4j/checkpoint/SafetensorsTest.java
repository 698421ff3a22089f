package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.tensor.DType;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryDtypeShapeAndMetadataThroughAFile() throws Exception {
        Map<String, TensorData> state = TestCheckpoints.sampleState();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("config", "{\"dim\": 64, \"note\": \"tab\\there, é, 中文, \\\\\"}");
        meta.put("empty", "");
        Path file = dir.resolve("a.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            Safetensors.write(ch, state, meta);
        }
        SafetensorsFile f = SafetensorsFile.read(file);
        assertEquals(meta.get("config"), f.metadata().get("config"));
        assertEquals("", f.metadata().get("empty"));
        assertEquals(state.keySet(), f.tensors().keySet());
        for (Map.Entry<String, TensorData> e : state.entrySet()) {
            TensorBuffer want = (TensorBuffer) e.getValue(), got = f.tensors().get(e.getKey());
            assertEquals(want.dtype(), got.dtype(), e.getKey());
            assertArrayEquals(want.shape(), got.shape(), e.getKey());
            assertArrayEquals(want.toBytes(), got.toBytes(), e.getKey());
        }
        assertArrayEquals(new long[] {Long.MIN_VALUE, 42}, f.tensors().get("rng").toLongs());
        assertEquals(0.5f, f.tensors().get("scalar").toFloats()[0]);
    }

    @Test
    void writesTheSafetensorsLayoutByteForByte() throws Exception {
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put("a", TensorBuffer.ofFloats(new float[] {1, 2}, 2));
        t.put("b", TensorBuffer.ofBytes(DType.I8, new byte[] {-1}, 1, 1));
        byte[] file = TestCheckpoints.write(t, Map.of());
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded so the data buffer is 8-byte aligned");
        byte[] data = {0, 0, (byte) 0x80, 0x3f, 0, 0, 0, 0x40, (byte) 0xff}; // 1.0f, 2.0f little-endian, then int8 -1
        byte[] zeroed = file.clone(); // the checksum covers the whole file with its own digits as "00000000"
        java.util.Arrays.fill(zeroed, 8 + Safetensors.CRC_PREFIX.length(), 8 + Safetensors.CRC_PREFIX.length() + 8, (byte) '0');
        CRC32C crc = new CRC32C();
        crc.update(zeroed);
        String json = "{\"__metadata__\":{\"qft4j.crc32c\":\"" + String.format("%08x", crc.getValue()) + "\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"I8\",\"shape\":[1,1],\"data_offsets\":[8,9]}}";
        assertEquals(json, TestCheckpoints.header(file).stripTrailing());
        assertEquals(8 + n + data.length, file.length);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(file, (int) (8 + n), file.length));
    }

    @Test
    void readsAPlainSafetensorsFileWithoutMetadataOrChecksum() throws Exception {
        byte[] file = TestCheckpoints.raw("{\"x\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ",
                new byte[] {1, 0, 0, 0, -1, -1, -1, -1});
        SafetensorsFile f = SafetensorsFile.read(ByteBuffer.wrap(file));
        assertTrue(f.metadata().isEmpty());
        assertArrayEquals(new int[] {1, -1}, f.tensors().get("x").toInts());
    }

    /** hf-written.safetensors was written by the reference implementation (safetensors 0.8.0, hf-written.py). */
    @Test
    void readsAFileWrittenByTheReferenceImplementation() throws Exception {
        SafetensorsFile f = SafetensorsFile.read(Path.of(getClass().getResource("hf-written.safetensors").toURI()));
        assertEquals(Map.of("format", "np", "note", "written by safetensors"), f.metadata());
        assertArrayEquals(new float[] {1.5f, -2, 3.25f, 0, 1e-3f, -7}, f.tensors().get("f32").toFloats());
        assertArrayEquals(new long[] {2, 3}, f.tensors().get("f32").shape());
        assertArrayEquals(new byte[] {0, 0x3c, 0, (byte) 0xb8, (byte) 0xff, 0x7b}, f.tensors().get("f16").toBytes()); // 1, -0.5, 65504
        assertArrayEquals(new byte[] {-128, 0, 127}, f.tensors().get("i8").toBytes());
        assertArrayEquals(new byte[] {0, (byte) 200, (byte) 255}, f.tensors().get("u8").toBytes());
        assertArrayEquals(new int[] {-1, 2, 3, -4}, f.tensors().get("i32").toInts());
        assertArrayEquals(new long[] {-(1L << 62), 1L << 62}, f.tensors().get("i64").toLongs());
        assertArrayEquals(new long[0], f.tensors().get("scalar").shape());
        assertEquals(2.5f, f.tensors().get("scalar").toFloats()[0]);
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoint.load(Path.of(getClass().getResource("hf-written.safetensors").toURI()), CheckpointSchema.ANY));
        assertTrue(e.getMessage().contains("not a qft4j checkpoint"), e.getMessage());
    }

    @Test
    void streamsAndMapsATensorLargerThanTheWritersChunks() throws Exception {
        long n = 16L << 20; // 16 Mi floats = 64 MiB, written 1 MiB at a time and never held in one array
        TensorData big = new TensorData() {
            @Override public DType dtype() { return DType.F32; }
            @Override public long[] shape() { return new long[] {n / 1024, 1024}; }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < n; i++) {
                    chunk.putFloat(i % 1000 - 500f);
                    if (!chunk.hasRemaining() || i == n - 1) {
                        chunk.flip();
                        while (chunk.hasRemaining()) out.write(chunk);
                        chunk.clear();
                    }
                }
            }
        };
        Path file = dir.resolve("big.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            Safetensors.write(ch, Map.of("big", big), Map.of());
        }
        TensorBuffer t = SafetensorsFile.read(file).tensors().get("big");
        assertArrayEquals(new long[] {n / 1024, 1024}, t.shape());
        ByteBuffer b = t.bytes();
        for (long i : new long[] {0, 1, 999, 1000, n / 2 + 3, n - 1}) assertEquals(i % 1000 - 500f, b.getFloat((int) (i * 4)), "element " + i);
    }

    @Test
    void writerFailsWhenATensorWritesFewerBytesThanItDeclares() {
        TensorData liar = new TensorData() {
            @Override public DType dtype() { return DType.F32; }
            @Override public long[] shape() { return new long[] {4}; }
            @Override public void writeTo(WritableByteChannel out) throws IOException { out.write(ByteBuffer.allocate(12)); }
        };
        IOException e = assertThrows(IOException.class, () -> Safetensors.write(new MemoryChannel(), Map.of("x", liar), Map.of()));
        assertEquals("tensor 'x' wrote 12 bytes but declares F32[4] (16 bytes)", e.getMessage());
    }

    @Test
    void writerRejectsReservedNames() {
        assertThrows(IllegalArgumentException.class,
                () -> Safetensors.write(new MemoryChannel(), Map.of("__metadata__", TensorBuffer.ofInts(new int[1], 1)), Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> Safetensors.write(new MemoryChannel(), Map.of(), Map.of(Safetensors.CRC_KEY, "0")));
    }

    @Test
    void headerIsStrictUtf8JsonWithEscapes() throws Exception {
        String name = "layer.0/\"q\"\\é\u0001";
        byte[] file = TestCheckpoints.write(Map.of(name, TensorBuffer.ofInts(new int[] {3}, 1)), Map.of());
        assertTrue(TestCheckpoints.header(file).contains("\\u0001"));
        assertArrayEquals(new int[] {3}, SafetensorsFile.read(ByteBuffer.wrap(file)).tensors().get(name).toInts());
    }
}
