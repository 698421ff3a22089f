package org.qft4j.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A validated safetensors file: its string metadata and its tensors (in data-offset order). Tensors read
 * from a file are memory-mapped, not copied, so opening a multi-gigabyte checkpoint costs no heap.
 */
public final class SafetensorsFile {
    private final Path file;
    private final Map<String, String> metadata;
    private final Map<String, TensorBuffer> tensors;

    SafetensorsFile(Path file, Map<String, String> metadata, Map<String, TensorBuffer> tensors) {
        this.file = file;
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /**
     * Opens and validates {@code file}: header length within {@link Safetensors#MAX_HEADER_BYTES} and the
     * file, strict UTF-8 JSON starting with '{', no duplicate names, known dtypes, dtype x shape equal to
     * each byte range without overflow, ranges contiguous, non-overlapping and covering the data buffer
     * exactly, and the data checksum when the writer stored one.
     */
    public static SafetensorsFile read(Path file) throws CheckpointException {
        return SafetensorsReader.read(file);
    }

    /** As {@link #read(Path)}, for the remaining bytes of an in-memory buffer (not copied). */
    public static SafetensorsFile read(ByteBuffer bytes) throws CheckpointException {
        return SafetensorsReader.read(bytes);
    }

    /** The file it was read from, or null for an in-memory buffer. */
    public Path file() { return file; }

    public Map<String, String> metadata() { return metadata; }

    public Map<String, TensorBuffer> tensors() { return tensors; }
}
