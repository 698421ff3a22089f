package org.qft4j.llama;

/**
 * A frozen weight in llama2.c's {@code runq} Q8_0 format: int8 values with one fp32 scale per group of groupSize
 * consecutive values of a row. matmul reproduces runq exactly: each activation row is quantized per group to int8
 * (scale = max|x| / 127, round half away from zero), and every group's int32 dot product is scaled by both scales.
 * Inference only: the gradient methods throw.
 */
public final class Q8Matrix implements WeightMatrix {
    private final int rows, cols, groupSize;
    private final byte[] q;       // (rows, cols) int8
    private final float[] scales; // (rows * cols / groupSize)

    public Q8Matrix(int rows, int cols, int groupSize, byte[] q, float[] scales) {
        if (rows <= 0 || cols <= 0 || groupSize <= 0 || cols % groupSize != 0)
            throw new IllegalArgumentException("Q8Matrix: (" + rows + ", " + cols + ") does not split into groups of " + groupSize);
        if (q.length != (long) rows * cols || scales.length != (long) rows * cols / groupSize)
            throw new IllegalArgumentException("Q8Matrix: " + q.length + " values and " + scales.length + " scales do not fit (" + rows + ", " + cols + ") in groups of " + groupSize);
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        this.q = q;
        this.scales = scales;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    public int groupSize() { return groupSize; }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        int groups = cols / groupSize;
        byte[] xq = new byte[tokens * cols];     // (tokens, cols) quantized activations
        float[] xs = new float[tokens * groups]; // (tokens, groups) their scales
        for (int t = 0; t < tokens; t++) quantize(x, t * cols, xq, xs, t * groups);
        Parallel.forRange(tokens * rows, cols, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int t = i / rows, r = i % rows;
                int xo = t * cols, wo = r * cols;
                float val = 0f;
                for (int gi = 0; gi < groups; gi++) {
                    int ival = 0;
                    int base = gi * groupSize;
                    for (int j = 0; j < groupSize; j++) ival += xq[xo + base + j] * q[wo + base + j];
                    val += ((float) ival) * scales[(wo + base) / groupSize] * xs[t * groups + gi];
                }
                y[i] = val;
            }
        });
    }

    /** runq's quantize(): per group scale = max|x|/127, q = round(x / scale) with C's round (half away from zero). */
    private void quantize(float[] x, int off, byte[] out, float[] s, int soff) {
        for (int g = 0; g < cols / groupSize; g++) {
            int base = off + g * groupSize;
            float wmax = 0f;
            for (int i = 0; i < groupSize; i++) wmax = Math.max(wmax, Math.abs(x[base + i]));
            float scale = wmax / 127.0f;
            s[soff + g] = scale;
            for (int i = 0; i < groupSize; i++) {
                float v = scale == 0f ? 0f : x[base + i] / scale;
                out[base + i] = (byte) (Math.signum(v) * Math.floor(Math.abs(v) + 0.5));
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        for (int j = 0; j < cols; j++) out[off + j] = q[r * cols + j] * scales[(r * cols + j) / groupSize];
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        throw frozen();
    }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        throw frozen();
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {
        throw frozen();
    }

    @Override
    public void gradientComplete() {
        throw frozen();
    }

    private static UnsupportedOperationException frozen() {
        return new UnsupportedOperationException("Q8Matrix holds a frozen llama2.c int8 export (inference only); convert with Fp32Matrix.copyOf to train");
    }
}
