package org.qft4j.train;

import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;

/**
 * A weight stored only as QFT's hybrid INT8 weight (INT8 dense codes, per-row scales, fp32 outliers): no fp32
 * master copy persists. The forward reads a dequantized image that is rebuilt lazily after each update (on a GPU this
 * is the on-the-fly dequantization inside the matmul); backward produces the fp32 dW, which on
 * {@link #gradientComplete()} becomes the INT8 gradient on the step's stack.
 */
public final class QftMatrix extends TrainableTensor implements AutoCloseable {
    private final HybridWeight weight;
    private float[] image; // (rows, cols) dequantized view, null when stale

    QftMatrix(ParameterSet owner, int index, String name, float[] w, int rows, int cols, HybridConfig config) {
        super(owner, index, name, rows, cols);
        this.weight = HybridWeight.quantize(w, rows, cols, config);
    }

    public HybridWeight hybrid() {
        return weight;
    }

    @Override
    public float[] weights() {
        if (image == null) {
            image = new float[rows * cols];
            weight.dequantize(image);
        }
        return image;
    }

    @Override
    void updated() {
        image = null;
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
