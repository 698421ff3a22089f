package org.qft4j.checkpoint;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.tensor.DType;

/**
 * The tensors a caller needs from a checkpoint, with their dtypes and shapes (derived from the model
 * config), so that a checkpoint of another model or config fails at load with the tensor named, not
 * later with a shape error deep in training. Immutable; {@link #require} returns a new schema.
 */
public final class CheckpointSchema {
    /** Accepts any tensors. */
    public static final CheckpointSchema ANY = new CheckpointSchema(Map.of(), false);

    private final Map<String, Spec> required;
    private final boolean rejectUnknown;

    private static final class Spec {
        final DType dtype;
        final long[] shape;

        Spec(DType dtype, long[] shape) {
            this.dtype = dtype;
            this.shape = shape;
        }

        @Override
        public String toString() {
            return dtype + Arrays.toString(shape);
        }
    }

    private CheckpointSchema(Map<String, Spec> required, boolean rejectUnknown) {
        this.required = Collections.unmodifiableMap(required);
        this.rejectUnknown = rejectUnknown;
    }

    /** This schema plus a required tensor {@code name} of exactly this dtype and shape. */
    public CheckpointSchema require(String name, DType dtype, long... shape) {
        TensorData.numel(shape);
        Map<String, Spec> m = new LinkedHashMap<>(required);
        m.put(name, new Spec(dtype, shape.clone()));
        return new CheckpointSchema(m, rejectUnknown);
    }

    /** This schema, also failing on tensors it does not require (a checkpoint of a larger model, a typo in a name). */
    public CheckpointSchema rejectUnknown() {
        return new CheckpointSchema(new LinkedHashMap<>(required), true);
    }

    void check(SafetensorsFile f) throws CheckpointException {
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, Spec> e : required.entrySet()) {
            TensorBuffer t = f.tensors().get(e.getKey());
            Spec want = e.getValue();
            if (t == null) {
                missing.add("'" + e.getKey() + "' " + want);
                continue;
            }
            if (t.dtype() != want.dtype)
                throw new CheckpointException(f.file(), "tensor '" + e.getKey() + "' is " + t + " but the config expects " + want
                        + ": the checkpoint was saved by another trainer setup");
            if (!Arrays.equals(t.shape(), want.shape))
                throw new CheckpointException(f.file(), "tensor '" + e.getKey() + "' has shape " + Arrays.toString(t.shape())
                        + " but the config expects " + Arrays.toString(want.shape)
                        + ": the checkpoint was saved for another model config; resume with the config it was trained with");
        }
        if (!missing.isEmpty())
            throw new CheckpointException(f.file(), "missing " + missing.size() + " tensor" + (missing.size() == 1 ? "" : "s")
                    + " that the config needs: " + String.join(", ", missing.subList(0, Math.min(5, missing.size())))
                    + (missing.size() > 5 ? ", ..." : "") + ": the checkpoint is from another model or config");
        if (rejectUnknown)
            for (String name : f.tensors().keySet())
                if (!required.containsKey(name))
                    throw new CheckpointException(f.file(), "unexpected tensor '" + name + "' that the config does not have: "
                            + "the checkpoint is from another model or config");
    }
}
