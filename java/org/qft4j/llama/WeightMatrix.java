package org.qft4j.llama;

/**
 * A trainable (rows, cols) weight matrix as the LLaMA engine sees it: the seam between the engine's
 * arithmetic and how a weight is stored. Implementations: plain fp32 (baselines, evaluation) and QFT's
 * hybrid INT8 weight, which produces an INT8 gradient for the optimizer's stack.
 *
 * <p>All arrays are row-major fp32 on the Java heap. {@code x}: (tokens, cols), {@code y}/{@code dy}: (tokens, rows).
 * During backward the engine calls the gradient methods any number of times for one weight, then
 * {@link #gradientComplete()} exactly once, at the point after which no more contributions arrive; the
 * order of those calls is the reverse of the forward order of the weights (the optimizer's stack order).
 */
public interface WeightMatrix {
    int rows();

    int cols();

    /** y[t, r] = sum_c x[t, c] * W[r, c] for t < tokens (overwrites y). */
    void matmul(float[] x, int tokens, float[] y);

    /** dx[t, c] += sum_r dy[t, r] * W[r, c] for t < tokens (accumulates into dx). */
    void matmulBackwardInput(float[] dy, int tokens, float[] dx);

    /** dW += dyᵀ x, i.e. dW[r, c] += sum_t dy[t, r] * x[t, c]. */
    void accumulateGradient(float[] dy, float[] x, int tokens);

    /** Copies row r (cols values) into out[off ..]; the embedding lookup. */
    void row(int r, float[] out, int off);

    /** dW[r, :] += g[off .. off + cols); the embedding gradient. */
    void accumulateRowGradient(int r, float[] g, int off);

    /** No more gradient contributions arrive for this weight in this backward pass. */
    void gradientComplete();
}
