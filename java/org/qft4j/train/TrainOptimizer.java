package org.qft4j.train;

import java.util.List;
import java.util.Map;
import org.qft4j.checkpoint.TensorBuffer;

/**
 * An optimizer with its state for every tensor of a {@link ParameterSet}, indexed by the tensor's position.
 * {@link #beginStep} numbers the steps from 1 (Lion's rounding stream and AdamW's bias correction use it).
 */
public interface TrainOptimizer extends ParameterOptimizer, AutoCloseable {
    void beginStep(long step);

    /** Persistent bytes of optimizer state (momentum; AdamW: both moments). */
    long stateBytes();

    /** Adds a copy of the optimizer state to a checkpoint's tensors, each named after the tensor it belongs to. */
    void saveState(Map<String, TensorBuffer> out);

    /** Restores what {@link #saveState} wrote; the checkpoint schema has checked every name, dtype and shape. */
    void restoreState(Map<String, TensorBuffer> in);

    @Override
    void close();

    static TrainOptimizer of(TrainConfig c, ParameterSet params) {
        List<TrainableTensor> t = params.tensors();
        return switch (c.optimizer) {
            case QFT_LION -> new QftLionOptimizer(t, c);
            case FP32_LION -> new Fp32LionOptimizer(t, c);
            case FP32_ADAMW -> new Fp32AdamWOptimizer(t, c);
            // PEQA's tensors are the scales (rows, groups): AdamW on them is the paper's recipe (weight decay 0, validated).
            case PEQA_ADAMW -> new Fp32AdamWOptimizer(t, c);
        };
    }

    /** The gradient as fp32, multiplied by scale. */
    static float[] scaled(Gradient g, float scale) {
        float[] v = new float[g.rows * g.cols];
        g.dequantize(v);
        if (scale != 1f) for (int i = 0; i < v.length; i++) v[i] *= scale;
        return v;
    }
}
