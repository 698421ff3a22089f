package org.qft4j.train;

import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;

/**
 * A weight stored as QFT's hybrid INT8 weight (INT8 dense codes, per-row scales, fp32 outliers), which the
 * optimizer updates in place: no fp32 master copy exists. The CPU engine multiplies with a dequantized image,
 * rebuilt after each update (on a GPU the dequantization happens inside the matmul); backward produces the fp32
 * dW, which {@link #gradientComplete()} turns into the INT8 gradient on the step's stack.
 */
public final class QftMatrix extends TrainableTensor implements AutoCloseable {
    private final HybridWeight weight;
    private boolean stale;

    QftMatrix(ParameterSet owner, int index, String name, float[] w, int rows, int cols, HybridConfig config) {
        this(owner, index, name, HybridWeight.quantize(w, rows, cols, config));
    }

    private QftMatrix(ParameterSet owner, int index, String name, HybridWeight weight) {
        super(owner, index, name, weight.rows(), weight.cols(), new float[weight.rows() * weight.cols()]);
        this.weight = weight;
        weight.dequantize(work.weights());
    }

    public HybridWeight hybrid() {
        return weight;
    }

    @Override
    public float[] weights() {
        if (stale) {
            weight.dequantize(work.weights());
            stale = false;
        }
        return work.weights();
    }

    @Override
    void updated() {
        stale = true;
    }

    @Override
    long weightBytes() {
        return weight.bytes();
    }

    @Override
    public void close() {
        weight.close();
    }
}
