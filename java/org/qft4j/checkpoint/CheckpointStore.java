package org.qft4j.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A directory of training checkpoints {@code ckpt-<step>.safetensors} that never holds a half-written
 * one. A save streams into a temporary file in the same directory, fsyncs it, renames it into place
 * atomically and fsyncs the directory; only then is the save complete, and only then are checkpoints
 * beyond the newest {@link #keepLast(int) N} deleted. A failed save (I/O error, full disk) removes its
 * temporary file and leaves every earlier checkpoint as it was; the {@link OnSaveFailure policy} decides
 * whether the caller sees an exception (stop cleanly) or a failed {@link SaveResult} (keep training).
 *
 * <p>One store (one process) writes a directory at a time. Not thread-safe.
 */
public final class CheckpointStore {
    private static final System.Logger LOG = System.getLogger(CheckpointStore.class.getName());
    private static final Pattern NAME = Pattern.compile("ckpt-(\\d{1,18})\\.safetensors");
    private static final Pattern TEMP = Pattern.compile("\\.ckpt-\\d{1,18}\\.safetensors\\.tmp");

    /** What {@link #save} does when writing fails. */
    public enum OnSaveFailure {
        /** Throw the {@link CheckpointException}: the trainer stops cleanly with the last good checkpoint on disk. */
        STOP,
        /** Log it and return a failed {@link SaveResult}: training goes on and the next save tries again. */
        CONTINUE
    }

    /** The outcome of a save: the file written, or the failure (only under {@link OnSaveFailure#CONTINUE}). */
    public static final class SaveResult {
        private final long step;
        private final Path file;
        private final CheckpointException failure;

        private SaveResult(long step, Path file, CheckpointException failure) {
            this.step = step;
            this.file = file;
            this.failure = failure;
        }

        public boolean saved() { return failure == null; }

        public long step() { return step; }

        /** The complete checkpoint file, or null when the save failed. */
        public Path file() { return file; }

        /** Why the save failed, or null. */
        public CheckpointException failure() { return failure; }
    }

    private final Path dir;
    private final Storage storage;
    private int keepLast = 3;
    private OnSaveFailure onSaveFailure = OnSaveFailure.STOP;

    private CheckpointStore(Path dir, Storage storage) {
        this.dir = dir;
        this.storage = storage;
    }

    /**
     * Opens (creating it if needed) the checkpoint directory and removes temporary files that a process
     * killed during a save left behind. Defaults: keep the last 3, {@link OnSaveFailure#STOP}.
     */
    public static CheckpointStore open(Path dir) throws CheckpointException {
        return open(dir, Storage.FILES);
    }

    static CheckpointStore open(Path dir, Storage storage) throws CheckpointException {
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
                for (Path p : s) {
                    if (TEMP.matcher(p.getFileName().toString()).matches()) {
                        LOG.log(System.Logger.Level.INFO, "removing {0}: a save that did not complete", p);
                        Files.deleteIfExists(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new CheckpointException(dir, "cannot open the checkpoint directory: " + e, e);
        }
        return new CheckpointStore(dir, storage);
    }

    /** Keep the newest {@code n >= 1} complete checkpoints; older ones are deleted after each successful save. */
    public CheckpointStore keepLast(int n) {
        if (n < 1) throw new IllegalArgumentException("keepLast must be at least 1, got " + n);
        keepLast = n;
        return this;
    }

    public CheckpointStore onSaveFailure(OnSaveFailure policy) {
        onSaveFailure = policy;
        return this;
    }

    public Path directory() { return dir; }

    /** The file a checkpoint of {@code step} has once complete. */
    public Path fileFor(long step) {
        return dir.resolve(String.format("ckpt-%012d.safetensors", step));
    }

    /**
     * Saves the state after {@code step} atomically. {@code metadata} (provenance, config, loader
     * position...) is stored with the format version and step added.
     *
     * @throws CheckpointException when the save failed and the policy is {@link OnSaveFailure#STOP}; the
     *         previous checkpoints are intact either way
     */
    public SaveResult save(long step, Map<String, ? extends TensorData> tensors, Map<String, String> metadata)
            throws CheckpointException {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        for (String k : List.of(Checkpoint.VERSION_KEY, Checkpoint.STEP_KEY))
            if (metadata.containsKey(k)) throw new IllegalArgumentException("metadata key '" + k + "' is set by the store");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(Checkpoint.VERSION_KEY, Integer.toString(Checkpoint.FORMAT_VERSION));
        meta.put(Checkpoint.STEP_KEY, Long.toString(step));
        meta.putAll(metadata);
        Path target = fileFor(step);
        Path temp = dir.resolve("." + target.getFileName() + ".tmp");
        boolean complete = false;
        try {
            try (SeekableByteChannel ch = storage.create(temp)) {
                Safetensors.write(ch, tensors, meta);
                storage.force(ch);
            }
            storage.moveAtomic(temp, target);
            storage.syncDirectory(dir);
            complete = true;
        } catch (IOException | UncheckedIOException e) {
            CheckpointException failure = new CheckpointException(target, "saving step " + step + " failed: " + e
                    + hint(e) + "; " + previous(step), e);
            if (onSaveFailure == OnSaveFailure.STOP) throw failure;
            LOG.log(System.Logger.Level.WARNING, failure.getMessage() + "; training continues");
            return new SaveResult(step, null, failure);
        } finally {
            if (!complete) deleteQuietly(temp);
        }
        prune();
        return new SaveResult(step, target, null);
    }

    private static String hint(Exception e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("No space left") || m.contains("Disk quota") ? " (free disk space or lower keepLast)" : "";
    }

    private String previous(long failedStep) {
        for (long s : steps())
            if (s != failedStep) return "the previous checkpoint (step " + s + ") is intact";
        return "no earlier checkpoint exists";
    }

    /**
     * The newest checkpoint that loads and validates against {@code schema}; corrupt, partial or
     * mismatching ones are skipped, each reported to {@code onSkip}. Empty when none is usable.
     */
    public Optional<Checkpoint> latestValid(CheckpointSchema schema, Consumer<CheckpointException> onSkip) {
        for (long step : steps()) {
            Path file = fileFor(step);
            try {
                Checkpoint c = Checkpoint.load(file, schema);
                if (c.step() != step)
                    throw new CheckpointException(file, "metadata says step " + c.step() + " but the file name says " + step
                            + ": the file was renamed or is corrupt");
                return Optional.of(c);
            } catch (CheckpointException e) {
                onSkip.accept(e);
            }
        }
        return Optional.empty();
    }

    /** As {@link #latestValid(CheckpointSchema, Consumer)}, logging each skipped checkpoint with its reason. */
    public Optional<Checkpoint> latestValid(CheckpointSchema schema) {
        return latestValid(schema, e -> LOG.log(System.Logger.Level.WARNING, "skipping checkpoint: " + e.getMessage()));
    }

    /** As {@link #latestValid(CheckpointSchema)}, accepting any tensors. */
    public Optional<Checkpoint> latestValid() {
        return latestValid(CheckpointSchema.ANY);
    }

    /** Steps of the complete checkpoint files in the directory, newest first (whether valid or not). */
    public List<Long> steps() {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches()) out.add(Long.parseLong(m.group(1)));
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot list " + dir + ": " + e);
        }
        out.sort(Comparator.reverseOrder());
        return out;
    }

    private void prune() {
        List<Long> steps = steps();
        for (long s : steps.subList(Math.min(keepLast, steps.size()), steps.size())) deleteQuietly(fileFor(s));
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot delete " + p + ": " + e);
        }
    }
}
