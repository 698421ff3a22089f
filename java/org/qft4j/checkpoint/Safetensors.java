package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of UTF-8 JSON, then one contiguous little-endian data buffer. The header maps each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end)}} (offsets relative to the
 * buffer) and holds string metadata under {@code "__metadata__"}. Files written here load in the Hugging
 * Face library and vice versa.
 *
 * <p>The writer streams each tensor ({@link TensorData#writeTo}) and stores a CRC32C of the whole file in
 * the metadata ({@value #CRC_KEY}, the first entry of the header, its own eight hex digits counted as
 * "00000000"), so that a flipped bit that no structural check can see (inside a tensor, or in a metadata
 * value such as the step) is still caught on load. The reader ({@link SafetensorsReader}) validates
 * everything before it trusts a size.
 */
public final class Safetensors {
    /** Largest header the reader accepts, as in the reference implementation: a larger one is corrupt or hostile. */
    public static final long MAX_HEADER_BYTES = 100_000_000;
    public static final String METADATA = "__metadata__";
    /** Metadata key of the file's CRC32C, eight lowercase hex digits; written by {@link #write}. */
    public static final String CRC_KEY = "qft4j.crc32c";
    /** How a header with a checksum starts: the checksum's digits follow at a fixed offset. */
    static final String CRC_PREFIX = "{\"" + METADATA + "\":{\"" + CRC_KEY + "\":\"";

    private Safetensors() {}

    /**
     * Writes {@code tensors} (in the map's iteration order) and {@code metadata} to {@code out} from its
     * current position, which must be 0 of an empty channel: the checksum is patched into the header once
     * the data has streamed through.
     *
     * @throws IllegalArgumentException for an empty or reserved tensor name, or a reserved metadata key
     * @throws IOException when the channel fails, or a tensor writes a different number of bytes than it declares
     */
    public static void write(SeekableByteChannel out, Map<String, ? extends TensorData> tensors, Map<String, String> metadata)
            throws IOException {
        if (metadata.containsKey(CRC_KEY)) throw new IllegalArgumentException("metadata key '" + CRC_KEY + "' is reserved for the writer");
        // The checksum goes first in the header so that its byte offset is fixed whatever the user's entries.
        StringBuilder h = new StringBuilder(CRC_PREFIX).append("00000000\"");
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            h.append(',');
            Json.quote(h, e.getKey()).append(':');
            Json.quote(h, e.getValue());
        }
        h.append('}');
        long offset = 0;
        for (Map.Entry<String, ? extends TensorData> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.equals(METADATA)) throw new IllegalArgumentException("invalid tensor name '" + name + "'");
            TensorData t = e.getValue();
            long size = t.byteSize();
            h.append(',');
            Json.quote(h, name).append(":{\"dtype\":\"").append(t.dtype()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) h.append(i == 0 ? "" : ",").append(shape[i]);
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + size).append("]}");
            offset = Math.addExact(offset, size);
        }
        h.append('}');
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // keeps the data buffer 8-byte aligned; spaces are JSON whitespace
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        CRC32C crc = new CRC32C();
        crc.update(head.duplicate());
        writeFully(out, head);
        for (Map.Entry<String, ? extends TensorData> e : tensors.entrySet()) {
            CountingChannel counted = new CountingChannel(out, crc);
            e.getValue().writeTo(counted);
            if (counted.count != e.getValue().byteSize())
                throw new IOException("tensor '" + e.getKey() + "' wrote " + counted.count + " bytes but declares "
                        + e.getValue().dtype() + Arrays.toString(e.getValue().shape()) + " (" + e.getValue().byteSize() + " bytes)");
        }
        long end = out.position();
        out.position(8 + CRC_PREFIX.length());
        writeFully(out, ByteBuffer.wrap(String.format("%08x", crc.getValue()).getBytes(StandardCharsets.US_ASCII)));
        out.position(end);
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    /** Passes writes through while counting them and feeding them to the checksum. */
    private static final class CountingChannel implements WritableByteChannel {
        private final WritableByteChannel out;
        private final CRC32C crc;
        long count;

        CountingChannel(WritableByteChannel out, CRC32C crc) {
            this.out = out;
            this.crc = crc;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            ByteBuffer view = src.duplicate();
            int n = out.write(src);
            view.limit(view.position() + n);
            crc.update(view);
            count += n;
            return n;
        }

        @Override
        public boolean isOpen() { return out.isOpen(); }

        @Override
        public void close() {}
    }
}
