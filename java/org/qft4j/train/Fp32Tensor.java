package org.qft4j.train;

/** A tensor trained in fp32: every tensor of the baselines, and QFT's small ones (norm weights). */
public final class Fp32Tensor extends TrainableTensor {
    private final float[] w; // (rows, cols)

    Fp32Tensor(ParameterSet owner, int index, String name, float[] w, int rows, int cols) {
        super(owner, index, name, rows, cols);
        if (w.length != rows * cols) throw new IllegalArgumentException(name + ": " + w.length + " values do not fill (" + rows + ", " + cols + ")");
        this.w = w;
    }

    @Override
    public float[] weights() {
        return w;
    }

    @Override
    void updated() {}

    @Override
    long weightBytes() {
        return 4L * w.length;
    }
}
