package org.qft4j.train;

import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.WeightMatrix;

/**
 * A trained (rows, cols) tensor as the model sees it: a {@link WeightMatrix} (vectors such as norm weights are
 * (1, n)). The arithmetic runs on an fp32 working matrix: the weights themselves (fp32 training) or the
 * dequantized image of QFT's INT8 weight. Backward accumulates into that matrix's fp32 dW;
 * {@link #gradientComplete()} hands the dW to the owning {@link ParameterSet}, which passes it to the step's
 * {@link GradientPolicy} (QFT: quantized to INT8 onto the stack) and clears it.
 */
public abstract sealed class TrainableTensor implements WeightMatrix permits Fp32Tensor, QftMatrix, PeqaTensor {
    final ParameterSet owner;
    /** Position in the model's forward order: the gradient's and the optimizer state's key. */
    public final int index;
    public final String name;
    final int rows;
    final int cols;
    final Fp32Matrix work;

    TrainableTensor(ParameterSet owner, int index, String name, int rows, int cols, float[] working) {
        this.owner = owner;
        this.index = index;
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.work = new Fp32Matrix(rows, cols, working);
    }

    /**
     * The current trained values, (rows, cols) fp32: for QFT the dequantized image, refreshed after each update; for PEQA
     * the scales, whose (rows, groups) shape the fields {@link #rows}/{@link #cols} then hold ({@link #rows()}/{@link #cols()}
     * stay the weight's shape, which the engine needs).
     */
    public abstract float[] weights();

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }

    public long numel() {
        return (long) rows * cols;
    }

    /** The fp32 gradient accumulator (rows, cols) of the current backward pass. */
    public float[] grad() {
        return work.gradient();
    }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        weights();
        work.matmul(x, tokens, y);
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        weights();
        work.matmulBackwardInput(dy, tokens, dx);
    }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        work.accumulateGradient(dy, x, tokens);
    }

    @Override
    public void row(int r, float[] out, int off) {
        weights();
        work.row(r, out, off);
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {
        work.accumulateRowGradient(r, g, off);
    }

    @Override
    public void gradientComplete() {
        owner.deliver(this, work.gradient());
        work.zeroGradient();
    }

    /** Called by the optimizer after it changed this tensor's weights. */
    abstract void updated();

    /** Persistent bytes of the weights as stored (without optimizer state and gradients). */
    abstract long weightBytes();
}
