package org.qft4j.llama.hf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.llama.CheckpointFormatException;

/**
 * Minimal safetensors (huggingface/safetensors format): u64 little-endian header length N, N bytes of JSON
 * {@code {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}}, then the data; offsets are
 * relative to the data start. The reader validates the whole header on open and converts F32/F16/BF16 to fp32.
 */
public final class SafeTensors implements AutoCloseable {
    private static final long MAX_HEADER = 100L << 20;

    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    /** A tensor to write: fp32 values in row-major order with their shape. */
    public record Tensor(float[] data, long... shape) {}

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;

    private SafeTensors(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
    }

    public static SafeTensors open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) throw new CheckpointFormatException(path + ": truncated, " + size + " bytes is shorter than the safetensors header length");
            long n = readFully(ch, 0, 8).getLong();
            if (n < 2 || n > MAX_HEADER || n > size - 8)
                throw new CheckpointFormatException(path + ": header length " + n + " is impossible for a file of " + size + " bytes");
            String json = StandardCharsets.UTF_8.decode(readFully(ch, 8, (int) n)).toString();
            Map<String, Entry> entries = parseHeader(path, json, size - 8 - n);
            return new SafeTensors(path, ch, 8 + n, entries);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String json, long dataLength) throws CheckpointFormatException {
        Object root;
        try {
            root = Json.parse(json);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(path + ": header is not valid JSON (" + e.getMessage() + ")");
        }
        if (!(root instanceof Map<?, ?> map)) throw new CheckpointFormatException(path + ": header is not a JSON object");
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) continue;
            if (!(e.getValue() instanceof Map<?, ?> t) || !(t.get("dtype") instanceof String dtype)
                    || !(t.get("shape") instanceof List<?> shapeList) || !(t.get("data_offsets") instanceof List<?> offs) || offs.size() != 2)
                throw new CheckpointFormatException(path + ": tensor '" + name + "' lacks dtype, shape or data_offsets [begin, end]");
            long[] shape = new long[shapeList.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(shapeList.get(i) instanceof Long d) || d < 0) throw new CheckpointFormatException(path + ": tensor '" + name + "' has a bad shape " + shapeList);
                shape[i] = d;
            }
            if (!(offs.get(0) instanceof Long b) || !(offs.get(1) instanceof Long en) || b < 0 || en < b || en > dataLength)
                throw new CheckpointFormatException(path + ": tensor '" + name + "' data_offsets " + offs + " fall outside the " + dataLength + " data bytes");
            Entry entry = new Entry(name, dtype, shape, b, en);
            int size = elementSize(dtype);
            if (size < 0) throw new CheckpointFormatException(path + ": tensor '" + name + "' has unknown dtype " + dtype);
            long expect;
            try {
                expect = Math.multiplyExact(entry.elements(), size);
            } catch (ArithmeticException ex) {
                throw new CheckpointFormatException(path + ": tensor '" + name + "' shape overflows");
            }
            if (en - b != expect)
                throw new CheckpointFormatException(path + ": tensor '" + name + "' " + dtype + " " + java.util.Arrays.toString(shape) + " needs " + expect + " bytes, data_offsets give " + (en - b));
            out.put(name, entry);
        }
        List<Entry> sorted = new ArrayList<>(out.values());
        sorted.sort((x, y) -> Long.compare(x.begin(), y.begin()));
        for (int i = 1; i < sorted.size(); i++)
            if (sorted.get(i).begin() < sorted.get(i - 1).end())
                throw new CheckpointFormatException(path + ": tensors '" + sorted.get(i - 1).name() + "' and '" + sorted.get(i).name() + "' overlap");
        return Collections.unmodifiableMap(out);
    }

    static int elementSize(String dtype) {
        switch (dtype) {
            case "F64": case "I64": case "U64": return 8;
            case "F32": case "I32": case "U32": return 4;
            case "F16": case "BF16": case "I16": case "U16": return 2;
            case "I8": case "U8": case "BOOL": case "F8_E4M3": case "F8_E5M2": return 1;
            default: return -1;
        }
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    /** The tensor's values as fp32 (from F32, F16 or BF16). */
    public float[] readFloats(String name) throws IOException {
        Entry e = entries.get(name);
        if (e == null) throw new CheckpointFormatException(path + ": no tensor '" + name + "'");
        if (e.elements() > Integer.MAX_VALUE - 8) throw new CheckpointFormatException(path + ": tensor '" + name + "' is too large for a Java array");
        int n = (int) e.elements();
        float[] out = new float[n];
        switch (e.dtype()) {
            case "F32" -> readFully(channel, dataStart + e.begin(), 4 * n).asFloatBuffer().get(out);
            case "BF16" -> {
                ByteBuffer b = readFully(channel, dataStart + e.begin(), 2 * n);
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
            }
            case "F16" -> {
                ByteBuffer b = readFully(channel, dataStart + e.begin(), 2 * n);
                for (int i = 0; i < n; i++) out[i] = halfToFloat(b.getShort());
            }
            default -> throw new CheckpointFormatException(path + ": tensor '" + name + "' is " + e.dtype() + "; only F32, F16 and BF16 convert to fp32");
        }
        return out;
    }

    static float halfToFloat(short h) {
        int sign = (h >>> 15) & 1, exp = (h >>> 10) & 0x1F, mant = h & 0x3FF;
        float v;
        if (exp == 0) v = mant * 0x1p-24f;
        else if (exp == 31) v = mant == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        else v = Float.intBitsToFloat(((exp - 15 + 127) << 23) | (mant << 13));
        return sign == 1 ? -v : v;
    }

    /** fp32 to bf16 bits, round to nearest even. */
    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Writes tensors (in map order) as dtype F32 or BF16. */
    public static void write(Path path, Map<String, Tensor> tensors, String dtype, Map<String, String> metadata) throws IOException {
        if (!dtype.equals("F32") && !dtype.equals("BF16")) throw new IllegalArgumentException("SafeTensors.write: dtype " + dtype + " (supported: F32, BF16)");
        int size = elementSize(dtype);
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long numel = 1;
            List<Object> shape = new ArrayList<>();
            for (long d : t.shape()) {
                numel *= d;
                shape.add(d);
            }
            if (numel != t.data().length) throw new IllegalArgumentException("SafeTensors.write: '" + e.getKey() + "' has " + t.data().length + " values for shape " + shape);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("dtype", dtype);
            m.put("shape", shape);
            m.put("data_offsets", List.of(offset, offset + numel * size));
            header.put(e.getKey(), m);
            offset += numel * size;
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int pad = (8 - json.length % 8) % 8; // the format pads the header with spaces to keep data 8-byte aligned
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer head = ByteBuffer.allocate(8 + json.length + pad).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(json.length + pad).put(json);
            for (int i = 0; i < pad; i++) head.put((byte) ' ');
            writeFully(ch, head.flip());
            for (Tensor t : tensors.values()) {
                ByteBuffer b = ByteBuffer.allocate(t.data().length * size).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : t.data()) {
                    if (size == 4) b.putFloat(f);
                    else b.putShort(floatToBf16(f));
                }
                writeFully(ch, b.flip());
            }
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) throw new CheckpointFormatException("safetensors: unexpected end of file at byte " + (pos + b.position()));
        }
        return b.flip();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
