package org.qft4j.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.qft4j.tensor.DType;

/**
 * A loaded, validated training checkpoint: a safetensors file whose metadata carries the qft4j format
 * version ({@value #VERSION_KEY}), the optimizer step ({@value #STEP_KEY}) and the file checksum that
 * {@link Safetensors#write} adds (verified on read), whose tensors match the
 * caller's {@link CheckpointSchema} and whose floating-point tensors are all finite.
 */
public final class Checkpoint {
    /** The checkpoint layout this SDK writes and reads. Bump it when the meaning of saved tensors changes. */
    public static final int FORMAT_VERSION = 1;
    public static final String VERSION_KEY = "qft4j.format_version";
    public static final String STEP_KEY = "qft4j.step";

    private final Path file;
    private final long step;
    private final Map<String, String> metadata;
    private final Map<String, TensorBuffer> tensors;

    private Checkpoint(SafetensorsFile f, long step) {
        this.file = f.file();
        this.step = step;
        this.metadata = f.metadata();
        this.tensors = f.tensors();
    }

    /** Reads and validates a checkpoint file (see {@link SafetensorsFile#read(Path)} for the structural checks). */
    public static Checkpoint load(Path file, CheckpointSchema schema) throws CheckpointException {
        return validate(SafetensorsFile.read(file), schema);
    }

    /** As {@link #load(Path, CheckpointSchema)}, from bytes in memory. */
    public static Checkpoint load(ByteBuffer bytes, CheckpointSchema schema) throws CheckpointException {
        return validate(SafetensorsFile.read(bytes), schema);
    }

    private static Checkpoint validate(SafetensorsFile f, CheckpointSchema schema) throws CheckpointException {
        String v = f.metadata().get(VERSION_KEY);
        if (v == null)
            throw new CheckpointException(f.file(), "no '" + VERSION_KEY + "' in " + Safetensors.METADATA
                    + ": a safetensors file, but not a qft4j checkpoint (import a model with the model loader instead)");
        int version;
        try {
            version = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new CheckpointException(f.file(), "format version '" + v + "' is not a number: the metadata is corrupt");
        }
        if (version != FORMAT_VERSION)
            throw new CheckpointException(f.file(), "checkpoint v" + version + ", SDK reads v" + FORMAT_VERSION + ": "
                    + (version > FORMAT_VERSION ? "it was written by a newer qft4j; upgrade qft4j to resume it"
                                                : "it was written by an older qft4j; resume it with that version"));
        // Plain safetensors files need no checksum, but a checkpoint always has one: without it, a flip
        // in the checksum's own key name would switch the check off unnoticed.
        if (!f.metadata().containsKey(Safetensors.CRC_KEY))
            throw new CheckpointException(f.file(), "no '" + Safetensors.CRC_KEY + "' in " + Safetensors.METADATA
                    + ": the checkpoint's integrity cannot be checked (its header is corrupt or was edited)");
        String s = f.metadata().get(STEP_KEY);
        long step = -1;
        try {
            if (s != null) step = Long.parseLong(s);
        } catch (NumberFormatException e) {
            step = -1;
        }
        if (step < 0) throw new CheckpointException(f.file(), "'" + STEP_KEY + "' is " + (s == null ? "missing" : "'" + s + "'")
                + ", not a step number: the metadata is corrupt");
        schema.check(f);
        for (Map.Entry<String, TensorBuffer> e : f.tensors().entrySet()) {
            TensorBuffer t = e.getValue();
            long i = t.firstNonFinite();
            if (i >= 0)
                throw new CheckpointException(f.file(), "tensor '" + e.getKey() + "' " + t + " holds " + describe(t, i)
                        + " at element " + i + " " + Arrays.toString(index(t.shape(), i))
                        + ": training had diverged when this was saved; resume from an earlier checkpoint");
        }
        return new Checkpoint(f, step);
    }

    private static String describe(TensorBuffer t, long i) {
        ByteBuffer b = t.bytes();
        boolean nan;
        if (t.dtype() == DType.F32) nan = Float.isNaN(b.getFloat((int) (i * 4)));
        else nan = (b.getShort((int) (i * 2)) & (t.dtype() == DType.F16 ? 0x03ff : 0x007f)) != 0;
        return nan ? "NaN" : "infinity";
    }

    private static long[] index(long[] shape, long flat) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return idx;
    }

    /** The file it was loaded from, or null for bytes in memory. */
    public Path file() { return file; }

    /** The optimizer step this checkpoint holds the state after. */
    public long step() { return step; }

    public Map<String, String> metadata() { return metadata; }

    public Map<String, TensorBuffer> tensors() { return tensors; }

    /** The tensor {@code name}; the schema guarantees the ones it requires. */
    public TensorBuffer tensor(String name) {
        TensorBuffer t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no tensor '" + name + "' in checkpoint " + file + "; it has " + tensors.keySet());
        return t;
    }
}
