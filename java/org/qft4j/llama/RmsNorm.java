package org.qft4j.llama;

/** RMSNorm over rows of width c: y = w * x / sqrt(mean(x^2) + eps), as in llama2.c's rmsnorm. */
final class RmsNorm {
    private RmsNorm() {}

    /** x, y: (tokens, c); w: (c); rstd: (tokens) receives 1/sqrt(mean(x^2) + eps) for backward. */
    static void forward(float[] x, float[] w, float[] y, float[] rstd, int tokens, int c, float eps) {
        Parallel.forRange(tokens, 2L * c, (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int o = t * c;
                float ss = 0f;
                for (int j = 0; j < c; j++) ss += x[o + j] * x[o + j];
                float r = (float) (1.0 / Math.sqrt(ss / c + eps));
                rstd[t] = r;
                for (int j = 0; j < c; j++) y[o + j] = w[j] * (r * x[o + j]);
            }
        });
    }

    /**
     * Given dy (tokens, c): dx += r*w*dy - r^3/c * x * sum_k(w_k dy_k x_k) per row, and dw += sum_t dy * x * r.
     */
    static void backward(float[] dy, float[] x, float[] w, float[] rstd, float[] dx, float[] dw, int tokens, int c) {
        Parallel.forRange(tokens, 3L * c, (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int o = t * c;
                float r = rstd[t];
                float dot = 0f;
                for (int j = 0; j < c; j++) dot += w[j] * dy[o + j] * x[o + j];
                float k = r * r * r * dot / c;
                for (int j = 0; j < c; j++) dx[o + j] += r * w[j] * dy[o + j] - k * x[o + j];
            }
        });
        // Serial over tokens so the sum into dw needs no reduction across threads; it is O(tokens * c).
        for (int t = 0; t < tokens; t++) {
            int o = t * c;
            float r = rstd[t];
            for (int j = 0; j < c; j++) dw[j] += dy[o + j] * x[o + j] * r;
        }
    }
}
