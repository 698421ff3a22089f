package org.qft4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.qft4j.checkpoint.CheckpointException;

/**
 * A checkpoint save failed and the config's policy is {@link org.qft4j.checkpoint.CheckpointStore.OnSaveFailure#STOP}:
 * the run ended at {@link #step()} and its trainer is closed. Nothing of the failed file remains and the earlier
 * checkpoints are intact, so the run can be resumed from the newest one once the cause (a full disk...) is fixed.
 */
public final class CheckpointSaveException extends UncheckedIOException {
    private final long step;
    private final Path file;

    CheckpointSaveException(long step, Path file, CheckpointException cause) {
        super("training stopped after step " + step + " (save-failure policy STOP): " + cause.getMessage(), new IOException(cause.getMessage(), cause));
        this.step = step;
        this.file = file;
    }

    /** The step whose checkpoint could not be saved (the last step trained). */
    public long step() {
        return step;
    }

    /** The checkpoint file that was not written. */
    public Path file() {
        return file;
    }
}
