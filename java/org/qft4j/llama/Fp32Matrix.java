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
            Parallel.forRange(rows, cols, (lo, hi) -> {
                for (int r = lo; r < hi; r++) y[r] = Parallel.dot(x, 0, weights, r * cols, cols);
            });
            return;
        }
        Parallel.forRange(tokens, (long) rows * cols, (lo, hi) -> {
            for (int t = lo; t < hi; t++)
                for (int r = 0; r < rows; r++) y[t * rows + r] = Parallel.dot(x, t * cols, weights, r * cols, cols);
        });
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        Parallel.forRange(tokens, (long) rows * cols, (lo, hi) -> {
            for (int t = lo; t < hi; t++)
                for (int r = 0; r < rows; r++) {
                    float g = dy[t * rows + r];
                    if (g != 0f) Parallel.axpy(g, weights, r * cols, dx, t * cols, cols);
                }
        });
    }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        Parallel.forRange(rows, (long) tokens * cols, (lo, hi) -> {
            for (int r = lo; r < hi; r++)
                for (int t = 0; t < tokens; t++) {
                    float g = dy[t * rows + r];
                    if (g != 0f) Parallel.axpy(g, x, t * cols, gradient, r * cols, cols);
                }
        });
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
