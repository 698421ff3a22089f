package org.qft4j.llama;

import java.util.Arrays;

/** A plain fp32 weight with an fp32 gradient of the same shape; the baseline {@link WeightMatrix}. */
public final class Fp32Matrix implements WeightMatrix {
    private final int rows, cols;
    private final float[] weights;  // (rows, cols) row-major
    private final float[] gradient; // (rows, cols) row-major, accumulated until zeroGradient()
    private int completions;

    public Fp32Matrix(int rows, int cols) {
        this(rows, cols, new float[Math.multiplyExact(rows, cols)]);
    }

    /** Wraps (does not copy) weights of length rows * cols. */
    public Fp32Matrix(int rows, int cols, float[] weights) {
        if (rows <= 0 || cols <= 0 || weights.length != (long) rows * cols)
            throw new IllegalArgumentException("Fp32Matrix: " + weights.length + " weights do not make a (" + rows + ", " + cols + ") matrix");
        this.rows = rows;
        this.cols = cols;
        this.weights = weights;
        this.gradient = new float[weights.length];
    }

    /** A copy of any weight matrix's values, read row by row. */
    public static Fp32Matrix copyOf(WeightMatrix m) {
        Fp32Matrix out = new Fp32Matrix(m.rows(), m.cols());
        for (int r = 0; r < m.rows(); r++) m.row(r, out.weights, r * m.cols());
        return out;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    /** The live weight array (rows, cols). */
    public float[] weights() { return weights; }

    /** The live gradient array (rows, cols). */
    public float[] gradient() { return gradient; }

    public void zeroGradient() {
        Arrays.fill(gradient, 0f);
    }

    /** How many times {@link #gradientComplete()} was called; lets tests check the backward contract. */
    public int completions() { return completions; }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        if (tokens == 1) {
            // generation: parallel over output rows
            Parallel.forRange(rows, cols, (lo, hi) -> {
                for (int r = lo; r < hi; r++) y[r] = Parallel.dot(x, 0, weights, r * cols, cols);
            });
            return;
        }
        Gemm.nt(x, tokens, weights, rows, cols, y, false); // y = x Wᵀ
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        Gemm.nt(dy, tokens, Gemm.transpose(weights, rows, cols), cols, rows, dx, true); // dx += dy W
    }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        // dW += dyᵀ x, as (dyᵀ)(xᵀ)ᵀ with both operands transposed so the reduction runs over tokens
        Gemm.nt(Gemm.transpose(dy, tokens, rows), rows, Gemm.transpose(x, tokens, cols), cols, tokens, gradient, true);
    }

    @Override
    public void row(int r, float[] out, int off) {
        System.arraycopy(weights, r * cols, out, off, cols);
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {
        Parallel.axpy(1f, g, off, gradient, r * cols, cols);
    }

    @Override
    public void gradientComplete() {
        completions++;
    }
}
