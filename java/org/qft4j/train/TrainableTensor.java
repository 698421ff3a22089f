package org.qft4j.train;

import java.util.Arrays;
import org.qft4j.llama.WeightMatrix;

/**
 * A trained (rows, cols) tensor as the model sees it (a {@link WeightMatrix}; vectors such as norm weights are
 * (1, n)). Backward accumulates into an fp32 dW scratch; {@link #gradientComplete()} hands the dW to the owning
 * {@link ParameterSet}, which passes it to the step's {@link GradientPolicy} and clears the scratch.
 */
public abstract sealed class TrainableTensor implements WeightMatrix permits Fp32Tensor, QftMatrix {
    final ParameterSet owner;
    /** Position in the model's forward order: the gradient's and the optimizer state's key. */
    public final int index;
    public final String name;
    final int rows;
    final int cols;
    private float[] grad; // (rows, cols) fp32 scratch, allocated on the first contribution of a step

    TrainableTensor(ParameterSet owner, int index, String name, int rows, int cols) {
        this.owner = owner;
        this.index = index;
        this.name = name;
        this.rows = rows;
        this.cols = cols;
    }

    /** The current weights, (rows, cols) fp32: for QFT a dequantized view refreshed after each update. */
    public abstract float[] weights();

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }

    public long numel() {
        return (long) rows * cols;
    }

    /** The gradient accumulator, for engines that write a vector parameter's gradient directly (norm weights). */
    public float[] grad() {
        if (grad == null) grad = new float[rows * cols];
        return grad;
    }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        MatMul.forward(weights(), rows, cols, x, tokens, y);
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        MatMul.backwardInput(weights(), rows, cols, dy, tokens, dx);
    }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        MatMul.backwardWeight(grad(), rows, cols, dy, x, tokens);
    }

    @Override
    public void row(int r, float[] out, int off) {
        System.arraycopy(weights(), r * cols, out, off, cols);
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {
        float[] d = grad();
        for (int c = 0; c < cols; c++) d[r * cols + c] += g[off + c];
    }

    @Override
    public void gradientComplete() {
        if (grad == null) return;
        if (owner.deliver(this, grad)) Arrays.fill(grad, 0f);
    }

    /** Drops a gradient without delivering it (evaluation runs, aborted steps). */
    void discardGradient() {
        if (grad != null) Arrays.fill(grad, 0f);
    }

    /** Called by the optimizer after it changed this tensor's weights. */
    abstract void updated();

    /** Persistent bytes of the weights (without optimizer state and gradients). */
    abstract long weightBytes();
}
