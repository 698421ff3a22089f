package org.qft4j.train;

/** The three products of a linear layer over row-major fp32 arrays, W: (rows, cols). */
final class MatMul {
    private MatMul() {}

    /** y[t, r] = sum_c x[t, c] * w[r, c]; x: (tokens, cols), y: (tokens, rows). */
    static void forward(float[] w, int rows, int cols, float[] x, int tokens, float[] y) {
        for (int t = 0; t < tokens; t++) {
            int xo = t * cols, yo = t * rows;
            for (int r = 0; r < rows; r++) y[yo + r] = dot(w, r * cols, x, xo, cols);
        }
    }

    /** dx[t, c] += sum_r dy[t, r] * w[r, c]. */
    static void backwardInput(float[] w, int rows, int cols, float[] dy, int tokens, float[] dx) {
        for (int t = 0; t < tokens; t++) {
            int xo = t * cols, yo = t * rows;
            for (int r = 0; r < rows; r++) {
                float d = dy[yo + r];
                if (d == 0) continue;
                int wo = r * cols;
                for (int c = 0; c < cols; c++) dx[xo + c] += d * w[wo + c];
            }
        }
    }

    /** dw[r, c] += sum_t dy[t, r] * x[t, c]. */
    static void backwardWeight(float[] dw, int rows, int cols, float[] dy, float[] x, int tokens) {
        for (int t = 0; t < tokens; t++) {
            int xo = t * cols, yo = t * rows;
            for (int r = 0; r < rows; r++) {
                float d = dy[yo + r];
                if (d == 0) continue;
                int wo = r * cols;
                for (int c = 0; c < cols; c++) dw[wo + c] += d * x[xo + c];
            }
        }
    }

    /** Four partial sums: independent chains the JIT can pipeline. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) s0 += a[ao + i] * b[bo + i];
        return (s0 + s1) + (s2 + s3);
    }
}
