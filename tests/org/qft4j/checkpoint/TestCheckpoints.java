package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.qft4j.tensor.DType;

/** Checkpoint bytes for tests: real ones from the writer, and hand-built ones with a chosen header. */
final class TestCheckpoints {
    private TestCheckpoints() {}

    /** A small training state of every dtype: fp32 weights, int8 codes and momentum, bf16, int64 counters. */
    static Map<String, TensorData> sampleState() {
        Map<String, TensorData> m = new LinkedHashMap<>();
        float[] w = new float[6];
        for (int i = 0; i < w.length; i++) w[i] = (i - 2.5f) / 3;
        m.put("w", TensorBuffer.ofFloats(w, 2, 3));
        m.put("codes", TensorBuffer.ofBytes(DType.I8, new byte[] {-128, -1, 0, 1, 127, 5, 6, 7}, 2, 4));
        m.put("scales", TensorBuffer.ofBytes(DType.BF16, new byte[] {(byte) 0x80, 0x3f, 0x00, 0x40}, 2));
        m.put("half", TensorBuffer.ofBytes(DType.F16, new byte[] {0x00, 0x3c}, 1));
        m.put("mask", TensorBuffer.ofBytes(DType.U8, new byte[] {(byte) 255, 0, 1}, 3));
        m.put("rows", TensorBuffer.ofInts(new int[] {0, 2, 5}, 3));
        m.put("rng", TensorBuffer.ofLongs(new long[] {Long.MIN_VALUE, 42}, 2));
        m.put("empty", TensorBuffer.ofFloats(new float[0], 0, 4));
        m.put("scalar", TensorBuffer.ofFloats(new float[] {0.5f}));
        return m;
    }

    /** Safetensors bytes from the real writer. */
    static byte[] write(Map<String, ? extends TensorData> tensors, Map<String, String> metadata) {
        MemoryChannel ch = new MemoryChannel();
        try {
            Safetensors.write(ch, tensors, metadata);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return ch.toByteArray();
    }

    /** A complete v1 checkpoint of {@link #sampleState()} at step 7. */
    static byte[] validCheckpoint() {
        return write(sampleState(), checkpointMetadata(7));
    }

    static Map<String, String> checkpointMetadata(long step) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Checkpoint.VERSION_KEY, Integer.toString(Checkpoint.FORMAT_VERSION));
        m.put(Checkpoint.STEP_KEY, Long.toString(step));
        return m;
    }

    /** A file with exactly this header text and data buffer (no padding, no checksum). */
    static byte[] raw(String header, byte[] data) {
        return raw(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] raw(byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return b.array();
    }

    /** The header (without the length prefix) of safetensors bytes, as text. */
    static String header(byte[] file) {
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(file, 8, (int) n, StandardCharsets.UTF_8);
    }
}
