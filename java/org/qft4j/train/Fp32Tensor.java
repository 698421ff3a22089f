package org.qft4j.train;

/** A tensor trained in fp32: every tensor of the baselines, and QFT's small ones (norm weights). */
public final class Fp32Tensor extends TrainableTensor {
    Fp32Tensor(ParameterSet owner, int index, String name, float[] w, int rows, int cols) {
        super(owner, index, name, rows, cols, checked(name, w, rows, cols));
    }

    private static float[] checked(String name, float[] w, int rows, int cols) {
        if (w.length != (long) rows * cols) throw new IllegalArgumentException(name + ": " + w.length + " values do not fill (" + rows + ", " + cols + ")");
        return w;
    }

    @Override
    public float[] weights() {
        return work.weights();
    }

    @Override
    void updated() {}

    @Override
    long weightBytes() {
        return 4L * work.weights().length;
    }
}
