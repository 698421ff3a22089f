package org.qft4j.peqa;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.qft4j.Device;

/**
 * The export format of a PEQA-tuned model: named tensors, either b-bit packed weights (codes + tuned
 * scales + zero-points, exactly as in memory) or plain fp32 arrays (norms, embeddings), after free-form
 * metadata (e.g. the model config). All numbers little-endian:
 * <pre>
 *   magic "QFTPEQA1" (8 bytes)
 *   int32 metadata length, metadata (UTF-8 "key=value" lines)
 *   int32 count, then count entries:
 *     int32 name length, name (UTF-8), int32 kind (0 = fp32, 1 = packed)
 *     fp32:   int32 rows, int32 cols, rows*cols float32
 *     packed: int32 bits, int32 rows, int32 cols, int32 group size (cols = per-channel),
 *             rows*words uint32 codes (words = ceil(cols / (32 / bits))), rows*groups float32 scales,
 *             rows*groups uint8 zero-points (groups = ceil(cols / group size))
 * </pre>
 * A 4-bit group-128 weight takes 0.5 + 5/128 bytes per parameter (4.3 bits).
 */
public final class PeqaFile {
    static final byte[] MAGIC = "QFTPEQA1".getBytes(StandardCharsets.US_ASCII);
    private static final int FP32 = 0, PACKED = 1;

    /** An fp32 (rows, cols) tensor kept in full precision. */
    public record Dense(int rows, int cols, float[] values) {}

    /** The contents of a file: metadata, packed weights on the requested device (caller closes them), dense tensors. */
    public record Contents(Map<String, String> metadata, Map<String, PackedWeight> packed, Map<String, Dense> dense)
            implements AutoCloseable {
        @Override
        public void close() {
            for (PackedWeight w : packed.values()) w.close();
        }
    }

    private PeqaFile() {}

    /** Whether the file starts with this format's magic. */
    public static boolean isPeqaFile(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(MAGIC.length), MAGIC);
        }
    }

    public static void write(Path file, Map<String, String> metadata, Map<String, PackedWeight> packed, Map<String, Dense> dense)
            throws IOException {
        StringBuilder meta = new StringBuilder();
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (e.getKey().contains("=") || (e.getKey() + e.getValue()).contains("\n"))
                throw new IllegalArgumentException("metadata key/value may not hold '=' (key) or newlines: " + e);
            meta.append(e.getKey()).append('=').append(e.getValue()).append('\n');
        }
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file)))) {
            out.write(MAGIC);
            byte[] m = meta.toString().getBytes(StandardCharsets.UTF_8);
            writeInt(out, m.length);
            out.write(m);
            writeInt(out, packed.size() + dense.size());
            for (Map.Entry<String, PackedWeight> e : packed.entrySet()) {
                PackedWeight w = e.getValue();
                writeName(out, e.getKey(), PACKED);
                writeInts(out, new int[] {w.bits(), w.rows(), w.cols(), w.groupSize()});
                writeInts(out, w.codes());
                writeFloats(out, w.scales());
                out.write(w.zeros());
            }
            for (Map.Entry<String, Dense> e : dense.entrySet()) {
                Dense d = e.getValue();
                if (d.values().length != (long) d.rows() * d.cols())
                    throw new IllegalArgumentException(e.getKey() + ": " + d.values().length + " values for (" + d.rows() + ", "
                            + d.cols() + ")");
                writeName(out, e.getKey(), FP32);
                writeInts(out, new int[] {d.rows(), d.cols()});
                writeFloats(out, d.values());
            }
        }
    }

    public static Contents read(Path file, Device device) throws IOException {
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, PackedWeight> packed = new LinkedHashMap<>();
        Map<String, Dense> dense = new LinkedHashMap<>();
        Contents contents = new Contents(metadata, packed, dense);
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            byte[] magic = in.readNBytes(MAGIC.length);
            if (!Arrays.equals(magic, MAGIC)) throw new IOException(file + " is not a PEQA file (bad magic)");
            for (String line : new String(readBytes(in, readInt(in), file), StandardCharsets.UTF_8).split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) metadata.put(line.substring(0, eq), line.substring(eq + 1));
            }
            int count = readInt(in);
            for (int i = 0; i < count; i++) {
                String name = new String(readBytes(in, readInt(in), file), StandardCharsets.UTF_8);
                int kind = readInt(in);
                if (kind == PACKED) {
                    int[] h = readInts(in, 4);
                    int bits = h[0], rows = h[1], cols = h[2], group = h[3];
                    if ((bits != 3 && bits != 4) || rows < 0 || cols < 0 || group < 1)
                        throw new IOException(file + ": " + name + " has a bad header " + Arrays.toString(h));
                    int words = (cols + 32 / bits - 1) / (32 / bits), groups = (cols + group - 1) / group;
                    int[] codes = readInts(in, Math.multiplyExact(rows, words));
                    float[] scales = readFloats(in, Math.multiplyExact(rows, groups));
                    byte[] zeros = readBytes(in, rows * groups, file);
                    packed.put(name, PackedWeight.of(device, rows, cols, bits, group, codes, scales, zeros));
                } else if (kind == FP32) {
                    int[] h = readInts(in, 2);
                    dense.put(name, new Dense(h[0], h[1], readFloats(in, Math.multiplyExact(h[0], h[1]))));
                } else {
                    throw new IOException(file + ": " + name + " has unknown kind " + kind);
                }
            }
            return contents;
        } catch (IOException | RuntimeException e) {
            contents.close();
            throw e;
        }
    }

    private static void writeName(DataOutputStream out, String name, int kind) throws IOException {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        writeInt(out, b.length);
        out.write(b);
        writeInt(out, kind);
    }

    private static void writeInt(OutputStream out, int v) throws IOException {
        writeInts(out, new int[] {v});
    }

    private static void writeInts(OutputStream out, int[] v) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        out.write(b.array());
    }

    private static void writeFloats(OutputStream out, float[] v) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        out.write(b.array());
    }

    private static byte[] readBytes(InputStream in, int n, Path file) throws IOException {
        if (n < 0) throw new IOException(file + ": negative length " + n);
        byte[] b = in.readNBytes(n);
        if (b.length != n) throw new IOException(file + " is truncated");
        return b;
    }

    private static int readInt(InputStream in) throws IOException {
        return readInts(in, 1)[0];
    }

    private static int[] readInts(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(Math.multiplyExact(4, n));
        if (b.length != 4 * n) throw new IOException("PEQA file is truncated");
        int[] v = new int[n];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(v);
        return v;
    }

    private static float[] readFloats(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(Math.multiplyExact(4, n));
        if (b.length != 4 * n) throw new IOException("PEQA file is truncated");
        float[] v = new float[n];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }
}
