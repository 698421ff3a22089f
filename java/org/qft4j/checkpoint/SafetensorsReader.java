package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.CharBuffer;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.qft4j.tensor.DType;

/**
 * Reads and validates a safetensors file. Every size in the file is checked against the real file size
 * before anything is allocated or mapped, so a hostile header cannot cause an out-of-memory error; every
 * problem is a {@link CheckpointException} naming it.
 */
final class SafetensorsReader {
    private static final Set<String> ENTRY_FIELDS = Set.of("dtype", "shape", "data_offsets");
    private static final String DTYPES = Arrays.toString(DType.values());

    /** Where the bytes come from: a file (tensors memory-mapped) or a buffer already in memory. */
    private interface Source {
        long size();

        /** A heap copy of {@code length} bytes at {@code position}; both already checked against {@link #size()}. */
        ByteBuffer copy(long position, int length) throws IOException;

        /** A read-only view of {@code length} bytes at {@code position}; both already checked against {@link #size()}. */
        ByteBuffer view(long position, int length) throws IOException;
    }

    private final Path file;
    private final Source source;

    private SafetensorsReader(Path file, Source source) {
        this.file = file;
        this.source = source;
    }

    static SafetensorsFile read(Path file) throws CheckpointException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            Source s = new Source() {
                @Override
                public long size() { return size; }

                @Override
                public ByteBuffer copy(long position, int length) throws IOException {
                    ByteBuffer b = ByteBuffer.allocate(length);
                    while (b.hasRemaining()) {
                        if (ch.read(b, position + b.position()) < 0) throw new IOException("file shrank while being read");
                    }
                    return b.flip();
                }

                @Override
                public ByteBuffer view(long position, int length) throws IOException {
                    return ch.map(FileChannel.MapMode.READ_ONLY, position, length);
                }
            };
            return new SafetensorsReader(file, s).read();
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e, e);
        }
    }

    static SafetensorsFile read(ByteBuffer bytes) throws CheckpointException {
        ByteBuffer all = bytes.slice();
        Source s = new Source() {
            @Override
            public long size() { return all.remaining(); }

            @Override
            public ByteBuffer copy(long position, int length) {
                return view(position, length);
            }

            @Override
            public ByteBuffer view(long position, int length) {
                return all.duplicate().position((int) position).limit((int) position + length).slice();
            }
        };
        try {
            return new SafetensorsReader(null, s).read();
        } catch (IOException e) {
            throw new CheckpointException(null, "cannot read: " + e, e);
        }
    }

    private SafetensorsFile read() throws CheckpointException, IOException {
        long size = source.size();
        if (size < 8)
            throw fail("file is " + size + " bytes, too short for safetensors (it starts with an 8-byte header length): "
                    + "the file is empty or truncated");
        long headerBytes = source.copy(0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerBytes < 0 || headerBytes > Safetensors.MAX_HEADER_BYTES)
            throw fail("header length " + Long.toUnsignedString(headerBytes) + " exceeds the " + Safetensors.MAX_HEADER_BYTES
                    + "-byte limit: the file is corrupt or not safetensors");
        if (headerBytes > size - 8)
            throw fail("header length " + headerBytes + " runs past the end of the file (" + size
                    + " bytes): the file is truncated");
        ByteBuffer raw = source.copy(8, (int) headerBytes);
        if (headerBytes == 0 || raw.get(0) != '{')
            throw fail("header does not start with '{'" + (headerBytes == 0 ? " (it is empty)" : String.format(" (first byte 0x%02x)", raw.get(0) & 0xff))
                    + ": the file is not safetensors");
        Object json;
        try {
            json = Json.parse(utf8(raw));
        } catch (Json.ParseException e) {
            if (e.duplicateKey != null)
                throw fail("duplicate name '" + e.duplicateKey + "' in the header (character " + e.offset + "): names must be unique");
            throw fail("header is not valid JSON: " + e.getMessage());
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> top = (Map<String, Object>) json; // starts with '{' and parsed, so an object

        Map<String, String> metadata = new java.util.LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Object> e : top.entrySet()) {
            if (e.getKey().equals(Safetensors.METADATA)) metadata = metadata(e.getValue());
            else entries.add(entry(e.getKey(), e.getValue()));
        }

        long dataStart = 8 + headerBytes;
        long dataBytes = size - dataStart;
        entries.sort(Comparator.<Entry>comparingLong(x -> x.begin).thenComparingLong(x -> x.end));
        long covered = 0;
        Entry previous = null;
        for (Entry x : entries) {
            if (x.begin > covered) {
                if (previous == null)
                    throw fail("the data buffer starts with " + x.begin + " bytes that no tensor owns (first tensor '" + x.name
                            + "' begins at " + x.begin + "): offsets must start at 0");
                throw fail("gap of " + (x.begin - covered) + " bytes between tensor '" + previous.name + "' (ends at " + covered
                        + ") and tensor '" + x.name + "' (begins at " + x.begin + "): tensors must be contiguous");
            }
            if (x.begin < covered)
                throw fail("tensors '" + previous.name + "' [" + previous.begin + ", " + previous.end + ") and '" + x.name + "' ["
                        + x.begin + ", " + x.end + ") overlap");
            covered = x.end;
            previous = x;
        }
        if (covered != dataBytes)
            throw fail("tensors cover " + covered + " bytes but the data buffer holds " + dataBytes + " (file " + size
                    + " bytes, header " + headerBytes + "): "
                    + (covered > dataBytes ? "the file is truncated" : (dataBytes - covered) + " trailing bytes belong to no tensor"));

        Map<String, TensorBuffer> tensors = new java.util.LinkedHashMap<>();
        List<ByteBuffer> data = new ArrayList<>();
        for (Entry x : entries) {
            long length = x.end - x.begin;
            if (length > Integer.MAX_VALUE)
                throw fail("tensor '" + x.name + "' is " + length + " bytes; qft4j loads tensors of at most "
                        + Integer.MAX_VALUE + " bytes: split it into shards");
            ByteBuffer bytes = source.view(dataStart + x.begin, (int) length);
            data.add(bytes);
            tensors.put(x.name, TensorBuffer.of(x.dtype, bytes, x.shape));
        }
        String storedCrc = metadata.get(Safetensors.CRC_KEY);
        if (storedCrc != null) verifyChecksum(storedCrc, headerBytes, raw, data);
        return new SafetensorsFile(file, metadata, tensors);
    }

    /**
     * Recomputes the writer's CRC32C over the whole file, the stored digits counted as "00000000". The
     * checksum entry must sit where the writer puts it; a header rewritten by another tool moves it.
     */
    private void verifyChecksum(String stored, long headerBytes, ByteBuffer rawHeader, List<ByteBuffer> data) throws CheckpointException {
        byte[] prefix = Safetensors.CRC_PREFIX.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer expectPrefix = ByteBuffer.wrap(prefix);
        if (rawHeader.remaining() < prefix.length + 8 || !rawHeader.duplicate().limit(prefix.length).equals(expectPrefix))
            throw fail("'" + Safetensors.CRC_KEY + "' is not the first header entry, where qft4j writes it: another tool rewrote "
                    + "the header; remove that entry from " + Safetensors.METADATA + " to load the file without the check");
        CRC32C crc = new CRC32C();
        crc.update(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerBytes));
        ByteBuffer header = rawHeader.duplicate();
        crc.update(header.duplicate().limit(prefix.length));
        crc.update("00000000".getBytes(StandardCharsets.US_ASCII));
        crc.update(header.position(prefix.length + 8));
        for (ByteBuffer b : data) crc.update(b.duplicate());
        String computed = String.format("%08x", crc.getValue());
        if (!stored.equals(computed))
            throw fail("checksum mismatch (stored crc32c " + stored + ", computed " + computed
                    + "): the file is corrupt (a flipped bit or a torn write)");
    }

    /** Strict UTF-8 decoding: a malformed byte is an error naming its offset, never a silent U+FFFD. */
    private String utf8(ByteBuffer raw) throws CheckpointException {
        ByteBuffer in = raw.duplicate();
        CharBuffer out = CharBuffer.allocate(in.remaining());
        CoderResult r = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(in, out, true);
        if (r.isError())
            throw fail(String.format("header is not valid UTF-8 (byte 0x%02x at header offset %d): the file is corrupt",
                    in.get(in.position()) & 0xff, in.position()));
        return out.flip().toString();
    }

    private Map<String, String> metadata(Object value) throws CheckpointException {
        if (!(value instanceof Map)) throw fail("'" + Safetensors.METADATA + "' must be an object of strings, got " + kind(value));
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
            if (!(e.getValue() instanceof String))
                throw fail("'" + Safetensors.METADATA + "' must map strings to strings; key '" + e.getKey() + "' holds " + kind(e.getValue()));
            out.put((String) e.getKey(), (String) e.getValue());
        }
        return out;
    }

    private Entry entry(String name, Object value) throws CheckpointException {
        if (name.isEmpty()) throw fail("a tensor has an empty name");
        if (!(value instanceof Map)) throw fail("tensor '" + name + "' must be an object with dtype, shape and data_offsets, got " + kind(value));
        Map<?, ?> m = (Map<?, ?>) value;
        for (Object k : m.keySet())
            if (!ENTRY_FIELDS.contains(k)) throw fail("tensor '" + name + "' has unknown field '" + k + "' (expected dtype, shape, data_offsets)");
        for (String k : ENTRY_FIELDS)
            if (!m.containsKey(k)) throw fail("tensor '" + name + "' has no '" + k + "'");
        Object d = m.get("dtype");
        DType dtype = null;
        for (DType t : DType.values()) if (t.name().equals(d)) dtype = t;
        if (dtype == null) throw fail("tensor '" + name + "' has dtype " + render(d) + "; qft4j reads " + DTYPES);
        long[] shape = naturals(m.get("shape"), -1, "tensor '" + name + "': shape must be a list of non-negative integers");
        long[] offsets = naturals(m.get("data_offsets"), 2, "tensor '" + name + "': data_offsets must be [begin, end] of non-negative integers");
        if (offsets[0] > offsets[1])
            throw fail("tensor '" + name + "': data_offsets [" + offsets[0] + ", " + offsets[1] + "] end before they begin");
        long bytes;
        try {
            bytes = Math.multiplyExact(TensorData.numel(shape), (long) dtype.bytes());
        } catch (ArithmeticException e) {
            throw fail("tensor '" + name + "': " + dtype + Arrays.toString(shape) + " has more bytes than a 64-bit size holds");
        }
        if (bytes != offsets[1] - offsets[0])
            throw fail("tensor '" + name + "': " + dtype + Arrays.toString(shape) + " needs " + bytes + " bytes but data_offsets ["
                    + offsets[0] + ", " + offsets[1] + "] hold " + (offsets[1] - offsets[0]));
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    /** A JSON list of non-negative integers that fit in a long, of {@code length} elements (-1: any). */
    private long[] naturals(Object value, int length, String what) throws CheckpointException {
        if (!(value instanceof List) || (length >= 0 && ((List<?>) value).size() != length))
            throw fail(what + ", got " + render(value));
        List<?> l = (List<?>) value;
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long) || (Long) l.get(i) < 0) throw fail(what + ", got " + render(value));
            out[i] = (Long) l.get(i);
        }
        return out;
    }

    private static String kind(Object v) {
        if (v instanceof Map) return "an object";
        if (v instanceof List) return "a list";
        if (v instanceof String) return "a string";
        if (v instanceof Boolean) return "a boolean";
        if (v == Json.NULL) return "null";
        return "a number";
    }

    /** A short rendering of a JSON value for messages (a hostile header can hold megabytes). */
    private static String render(Object v) {
        String s = v instanceof String ? "'" + v + "'" : String.valueOf(v);
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    private CheckpointException fail(String message) {
        return new CheckpointException(file, message);
    }

    private static final class Entry {
        final String name;
        final DType dtype;
        final long[] shape;
        final long begin, end; // [begin, end) in the data buffer

        Entry(String name, DType dtype, long[] shape, long begin, long end) {
            this.name = name;
            this.dtype = dtype;
            this.shape = shape;
            this.begin = begin;
            this.end = end;
        }
    }
}
