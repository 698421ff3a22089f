package org.qft4j.checkpoint;

import java.nio.file.Path;

/**
 * A checkpoint could not be written or read: an I/O failure, or a file that is truncated, corrupt,
 * hostile, of another format version, or does not match the expected tensors. The message names the
 * file, the problem and, where there is one, the fix. Loading code sees only this type: every other
 * failure inside the reader is a bug.
 */
public class CheckpointException extends Exception {
    private final Path file;

    public CheckpointException(Path file, String message) {
        this(file, message, null);
    }

    public CheckpointException(Path file, String message, Throwable cause) {
        super((file == null ? "" : file + ": ") + message, cause);
        this.file = file;
    }

    /** The checkpoint file concerned, or null when the bytes did not come from a file. */
    public Path file() {
        return file;
    }
}
