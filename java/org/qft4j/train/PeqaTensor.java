package org.qft4j.train;

import org.qft4j.peqa.PeqaMatrix;

/**
 * A PEQA weight in training: the engine multiplies with the b-bit {@link PeqaMatrix} (dequantization inside the
 * matmul), and the trained tensor is its scales, (rows, groups) fp32. So {@link #rows}/{@link #cols} fields, the
 * gradient and the optimizer state are (rows, groups), while {@link #rows()}/{@link #cols()} give the weight's
 * (rows, cols) shape the engine needs. {@link #weights()} is the live scale array the matrix reads before every op,
 * so the optimizer updates it in place. Codes and zero-points are frozen.
 */
public final class PeqaTensor extends TrainableTensor implements AutoCloseable {
    private final PeqaMatrix matrix;

    /** Takes ownership of {@code matrix}. */
    PeqaTensor(ParameterSet owner, int index, String name, PeqaMatrix matrix) {
        super(owner, index, name, matrix.rows(), matrix.groups(), matrix.scales());
        this.matrix = matrix;
    }

    /** The b-bit weight with the current scales (for export, evaluation and checkpoints). */
    public PeqaMatrix matrix() {
        return matrix;
    }

    /** The trainable scales (rows, groups), updated in place. */
    @Override
    public float[] weights() {
        return work.weights();
    }

    @Override public int rows() { return matrix.rows(); }
    @Override public int cols() { return matrix.cols(); }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        matrix.matmul(x, tokens, y);
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        matrix.matmulBackwardInput(dy, tokens, dx);
    }

    /** Reaches the scales only: d loss / d scales accumulates on the matrix's device. */
    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        matrix.accumulateGradient(dy, x, tokens);
    }

    @Override
    public void row(int r, float[] out, int off) {
        matrix.row(r, out, off);
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {
        matrix.accumulateRowGradient(r, g, off);
    }

    /** Hands the pass's scale gradient (rows, groups) to the step's policy. */
    @Override
    public void gradientComplete() {
        matrix.moveGradientInto(work.gradient());
        super.gradientComplete();
    }

    @Override
    void updated() {}

    /** Packed codes, the device copy of the scales, zero-points, and the heap master scales. */
    @Override
    long weightBytes() {
        return matrix.weight().bytes() + 4L * work.weights().length;
    }

    @Override
    public void close() {
        matrix.close();
    }
}
