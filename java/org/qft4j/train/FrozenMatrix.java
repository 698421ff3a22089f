package org.qft4j.train;

import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.WeightMatrix;

/**
 * An fp32 weight that training leaves as it is (PEQA's token embedding and classifier, or any {@link ModelPart} a run
 * freezes): forward and the input gradient as usual, no weight gradient, so backward spends nothing on it.
 */
final class FrozenMatrix implements WeightMatrix {
    private final Fp32Matrix w;

    /** w: (rows, cols) row-major, owned from now on. */
    FrozenMatrix(float[] w, int rows, int cols) {
        this.w = new Fp32Matrix(rows, cols, w);
    }

    @Override public int rows() { return w.rows(); }
    @Override public int cols() { return w.cols(); }

    long bytes() {
        return 4L * w.weights().length;
    }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        w.matmul(x, tokens, y);
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        w.matmulBackwardInput(dy, tokens, dx);
    }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {}

    @Override
    public void row(int r, float[] out, int off) {
        w.row(r, out, off);
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {}

    @Override
    public void gradientComplete() {}
}
