package org.qft4j.llama;

/**
 * out (M, N) = A (M, K) · Bᵀ where B is (N, K), all row-major fp32: every output is a dot product over K.
 * The kernel computes 4x4 output blocks with 16 scalar accumulators, so each loaded value feeds four multiply-adds;
 * C2 (Java 17) does not vectorize these loops, and the blocking is what lifts them off the load bottleneck.
 */
final class Gemm {
    private Gemm() {}

    /** out[i*N + j] (+)= sum_k a[i*K + k] * b[j*K + k]; parallel over blocks of rows of A. */
    static void nt(float[] a, int m, float[] b, int n, int k, float[] out, boolean accumulate) {
        int blocks = (m + 3) / 4;
        Parallel.forRange(blocks, 4L * n * k, (lo, hi) -> {
            for (int blk = lo; blk < hi; blk++) {
                int i = blk * 4;
                if (i + 4 <= m) rows4(a, i, b, n, k, out, accumulate);
                else for (int ii = i; ii < m; ii++) row1(a, ii, b, n, k, out, accumulate);
            }
        });
    }

    private static void rows4(float[] a, int i, float[] b, int n, int k, float[] out, boolean acc) {
        int a0 = i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            int b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
            float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
            float s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
            for (int p = 0; p < k; p++) {
                float x0 = a[a0 + p], x1 = a[a1 + p], x2 = a[a2 + p], x3 = a[a3 + p];
                float y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
                s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
                s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
                s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
                s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
            }
            store(out, i * n + j, s00, s01, s02, s03, acc);
            store(out, (i + 1) * n + j, s10, s11, s12, s13, acc);
            store(out, (i + 2) * n + j, s20, s21, s22, s23, acc);
            store(out, (i + 3) * n + j, s30, s31, s32, s33, acc);
        }
        for (; j < n; j++)
            for (int ii = 0; ii < 4; ii++) {
                float s = Parallel.dot(a, (i + ii) * k, b, j * k, k);
                int o = (i + ii) * n + j;
                out[o] = acc ? out[o] + s : s;
            }
    }

    private static void row1(float[] a, int i, float[] b, int n, int k, float[] out, boolean acc) {
        for (int j = 0; j < n; j++) {
            float s = Parallel.dot(a, i * k, b, j * k, k);
            int o = i * n + j;
            out[o] = acc ? out[o] + s : s;
        }
    }

    private static void store(float[] out, int o, float s0, float s1, float s2, float s3, boolean acc) {
        if (acc) {
            out[o] += s0;
            out[o + 1] += s1;
            out[o + 2] += s2;
            out[o + 3] += s3;
        } else {
            out[o] = s0;
            out[o + 1] = s1;
            out[o + 2] = s2;
            out[o + 3] = s3;
        }
    }

    /** (rows, cols) row-major to (cols, rows) row-major, for the first rows rows of src. */
    static float[] transpose(float[] src, int rows, int cols) {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
        return out;
    }
}
