package org.qft4j.train;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.qft4j.checkpoint.CheckpointSchema;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.peqa.PackedWeight;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;

/**
 * The tensors of a training checkpoint: every trained tensor as stored (QFT: INT8 codes, per-row scales and the
 * fp32 CSR outliers of each hybrid weight; fp32 tensors as they are; PEQA: the trained scales under {@code w.<name>}
 * plus the frozen packed codes and zero-points, which a resume checks against its own) under {@code w.<name>.*}, and the optimizer's
 * state under {@code opt.<name>.*}. Scalars (step, loader position, RNG key) travel in the metadata
 * ({@link Trainer#saveCheckpoint}).
 */
final class TrainState {
    private TrainState() {}

    /** Copies of the weights and optimizer state now, in a stable order. */
    static Map<String, TensorBuffer> tensors(ParameterSet params, TrainOptimizer optimizer) {
        Map<String, TensorBuffer> out = new LinkedHashMap<>();
        for (TrainableTensor t : params.tensors()) {
            if (t instanceof QftMatrix q) {
                HybridWeight h = q.hybrid();
                out.put("w." + t.name + ".codes", TensorBuffer.ofBytes(DType.I8, h.codes().toBytes(), t.rows, t.cols));
                out.put("w." + t.name + ".scales", TensorBuffer.ofFloats(h.scales().toFloats(), t.rows));
                out.put("w." + t.name + ".row_ptr", TensorBuffer.ofInts(h.rowPtr().toInts(), t.rows + 1L));
                out.put("w." + t.name + ".col_idx", TensorBuffer.ofInts(h.colIdx().toInts(), h.nnz()));
                out.put("w." + t.name + ".values", TensorBuffer.ofFloats(h.values().toFloats(), h.nnz()));
            } else {
                out.put("w." + t.name, TensorBuffer.ofFloats(t.weights(), t.rows, t.cols));
            }
            if (t instanceof PeqaTensor p) {
                PackedWeight w = p.matrix().weight();
                out.put("w." + t.name + ".codes", TensorBuffer.ofInts(w.codes(), w.rows(), w.wordsPerRow()));
                out.put("w." + t.name + ".zeros", TensorBuffer.ofBytes(DType.I8, w.zeros(), w.rows(), w.groups()));
            }
        }
        optimizer.saveState(out);
        return out;
    }

    /** Exactly the tensors (names, dtypes, shapes) that {@link #tensors} of this model and config writes. */
    static CheckpointSchema schema(Map<String, TensorBuffer> fresh) {
        CheckpointSchema s = CheckpointSchema.ANY;
        for (Map.Entry<String, TensorBuffer> e : fresh.entrySet()) s = s.require(e.getKey(), e.getValue().dtype(), e.getValue().shape());
        return s.rejectUnknown();
    }

    /** Overwrites the weights and optimizer state with a checkpoint's (already validated against {@link #schema}). */
    static void restore(Map<String, TensorBuffer> in, ParameterSet params, TrainOptimizer optimizer) {
        for (TrainableTensor t : params.tensors()) if (t instanceof PeqaTensor p) requireFrozen(p, in); // before anything changes
        for (TrainableTensor t : params.tensors()) {
            if (t instanceof QftMatrix q) {
                q.hybrid().restore(in.get("w." + t.name + ".codes").toBytes(), in.get("w." + t.name + ".scales").toFloats(),
                        in.get("w." + t.name + ".row_ptr").toInts(), in.get("w." + t.name + ".col_idx").toInts(),
                        in.get("w." + t.name + ".values").toFloats());
            } else {
                float[] w = in.get("w." + t.name).toFloats();
                System.arraycopy(w, 0, t.weights(), 0, w.length);
            }
            t.updated();
        }
        optimizer.restoreState(in);
    }

    /** PEQA never changes codes or zero-points: different ones mean the checkpoint was tuned from another base model. */
    private static void requireFrozen(PeqaTensor t, Map<String, TensorBuffer> in) {
        PackedWeight w = t.matrix().weight();
        if (!Arrays.equals(w.codes(), in.get("w." + t.name + ".codes").toInts()) || !Arrays.equals(w.zeros(), in.get("w." + t.name + ".zeros").toBytes()))
            throw new IllegalArgumentException("the frozen PEQA codes or zero-points of " + t.name + " differ from this model's RTN quantization"
                    + " (" + w + "): the checkpoint was tuned from another base model");
    }
}
