package org.qft4j.llama.device;

import java.util.Objects;
import java.util.function.Supplier;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.EngineNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/**
 * The classifier logits = x Wᵀ and its softmax cross-entropy without the (n, vocab) logits (issue 10): forward
 * computes the logits a chunk of vocabulary columns at a time and folds each into running softmax statistics
 * (online softmax, native/include/qft4j/cross_entropy.h); backward computes each chunk again, turns it into its gradient in place
 * and multiplies it out at once: dx = dlogits W, dW += dlogitsᵀ x, chunk by chunk. When the whole vocabulary fits
 * the budget there is one chunk, and backward reuses forward's logits instead of computing them again.
 *
 * <p>Memory: one (maxTokens, chunk) fp32 buffer instead of logits and their gradient, 2 (maxTokens, vocab) fp32
 * (at LLaMA-7B's 32000 x 2048 tokens: 32 MiB instead of 500 MiB; at the 125M bench's 50304 x 8192 tokens: 32 MiB
 * instead of 3.1 GiB). Time: when chunked, the classifier's forward GEMM runs twice.
 *
 * <p>W is the caller's (V, C) {@link Weight}: fp32, or QFT's hybrid INT8 (per-token INT8 activations times the INT8
 * rows plus the fp32 outliers, {@link QftLinear}; its backward dequantizes one chunk of rows at a time into a scratch).
 * dW is W's fp32 gradient; x (n, C) the final norm's output. Not thread-safe.
 */
final class ChunkedClassifier implements AutoCloseable {
    /** The classifier weight (V, C), read a chunk of rows at a time. */
    sealed interface Weight permits Fp32, Hybrid {
        long rows();

        long cols();
    }

    /** An fp32 weight. */
    record Fp32(Tensor w) implements Weight {
        public long rows() { return w.dim(0); }

        public long cols() { return w.dim(1); }
    }

    /**
     * A hybrid INT8 weight as a {@link QftLinear}; scratch: F32, at least (chunk columns x C), asked for by backward (which
     * dequantizes a chunk of rows into it), so that its owner can make it on first use and share it.
     */
    record Hybrid(QftLinear q, Supplier<Tensor> scratch) implements Weight {
        public long rows() { return q.weight().rows(); }

        public long cols() { return q.weight().cols(); }
    }

    /** Where backward puts dW: added to a whole (V, C) gradient, or handed over a chunk of rows at a time. */
    sealed interface WeightGradient permits Accumulate, Stream {}

    /** dw (V, C) += dlogitsᵀ x. */
    record Accumulate(Tensor dw) implements WeightGradient {}

    /** Each chunk's rows of dW, written over buffer (F32, at least chunk columns x C) and handed to rows before the next. */
    record Stream(Tensor buffer, Rows rows) implements WeightGradient {}

    /** Takes rows [row0, row0 + count) of dW, (count, C) in chunk, valid until it returns. */
    interface Rows {
        void ready(int row0, int count, Tensor chunk);
    }

    /** The default logits budget: 32 MiB, e.g. 4096 columns at 2048 tokens, and all of a small model's vocabulary. */
    static final long DEFAULT_CHUNK_BYTES = 32L << 20;

    private final Device device;
    private final int maxTokens, vocab, dim, chunk, chunks;
    private final Scope owned = new Scope();
    private final Tensor logits;                          // (maxTokens, chunk) F32: one chunk's logits, then their gradient
    private final Tensor max, sum, targetLogit, lse, losses; // (maxTokens) F32, I64 holding fp64, F32, F32, F32
    private Tensor fullLogits;                            // (maxTokens, vocab) F32 for logits-only forward when chunked; on first use
    private int n = -1;                                   // tokens of the last loss forward; -1: none pending
    private boolean logitsHeld;                           // the single chunk still holds the last loss forward's logits
    private Fp32Math math = Fp32Math.FP32;                // of the fp32 products: an fp32 classifier's, and every backward's

    /**
     * @param chunkBytes budget of the logits chunk in bytes: the chunk is the whole vocabulary when maxTokens x vocab
     *                   fp32 fit, else the most columns that fit, a multiple of 64 (at least 64)
     */
    ChunkedClassifier(Device device, int maxTokens, int vocab, int dim, long chunkBytes) {
        if (maxTokens <= 0 || vocab <= 0 || dim <= 0 || chunkBytes <= 0)
            throw new IllegalArgumentException("ChunkedClassifier: need positive maxTokens, vocab, dim and chunkBytes, got " + maxTokens + ", "
                    + vocab + ", " + dim + ", " + chunkBytes);
        Natives.load(EngineNative.class);
        this.device = device;
        this.maxTokens = maxTokens;
        this.vocab = vocab;
        this.dim = dim;
        this.chunk = chunkColumns(maxTokens, vocab, chunkBytes);
        this.chunks = (vocab + chunk - 1) / chunk;
        try {
            logits = alloc(DType.F32, maxTokens, chunk);
            max = alloc(DType.F32, maxTokens);
            sum = alloc(DType.I64, maxTokens);
            targetLogit = alloc(DType.F32, maxTokens);
            lse = alloc(DType.F32, maxTokens);
            losses = alloc(DType.F32, maxTokens);
        } catch (RuntimeException | Error e) {
            owned.close();
            throw e;
        }
    }

    /** Columns per chunk for a budget (see the constructor). */
    static int chunkColumns(long maxTokens, int vocab, long chunkBytes) {
        if (maxTokens * vocab * 4 <= chunkBytes) return vocab;
        long cols = chunkBytes / (4 * maxTokens) / 64 * 64;
        return (int) Math.min(vocab, Math.max(64, cols));
    }

    /** The arithmetic of the fp32 products (the fp32 classifier's logits, every classifier's backward); FP32 until set. */
    void fp32Math(Fp32Math math) { this.math = Objects.requireNonNull(math, "math"); }

    int chunkColumns() { return chunk; }

    int chunks() { return chunks; }

    /**
     * Loss forward: the per-token losses of x (n, C) against targets (n) I32 (negative: ignored; each &lt; vocab) into
     * {@link #losses()}, keeping what {@link #backward} needs.
     */
    void lossForward(Tensor x, Weight w, int n, Tensor targets) {
        String op = "ChunkedClassifier.lossForward";
        shapes(op, x, w, n);
        need(op, "targets", targets, DType.I32, n);
        int dev = device.nativeId();
        if (w instanceof Hybrid h) h.q.quantizeInput(x, n);
        check(EngineNative.qft_cross_entropy_chunk_begin(dev, n, max.address(), sum.address(), targetLogit.address()), op, n, 0);
        for (int v0 = 0; v0 < vocab; v0 += chunk) {
            int cols = Math.min(chunk, vocab - v0);
            logitsOf(x, w, n, v0, cols, logits);
            check(EngineNative.qft_cross_entropy_chunk_stats(dev, logits.address(), n, cols, v0, targets.address(), max.address(),
                    sum.address(), targetLogit.address()), op, n, v0);
        }
        check(EngineNative.qft_cross_entropy_chunk_finish(dev, n, vocab, targets.address(), max.address(), sum.address(),
                targetLogit.address(), lse.address(), losses.address()), op, n, vocab);
        this.n = n;
        logitsHeld = chunks == 1;
    }

    /** Per-token losses (n) of the last {@link #lossForward}, 0 where ignored. */
    Tensor losses() { return losses; }

    /** Logits (n, V) of x without a loss; the tensor returned holds them until the next call on this object. */
    Tensor logitsForward(Tensor x, Weight w, int n) {
        shapes("ChunkedClassifier.logitsForward", x, w, n);
        if (w instanceof Hybrid h) h.q.quantizeInput(x, n);
        if (chunks > 1 && fullLogits == null) fullLogits = alloc(DType.F32, maxTokens, vocab);
        Tensor out = chunks == 1 ? logits : fullLogits;
        logitsOf(x, w, n, 0, vocab, out);
        this.n = -1;
        logitsHeld = false;
        return out;
    }

    /** The logits (n, V) of the last loss forward while they are kept: with one chunk, until backward; else never (null). */
    Tensor heldLogits() { return logitsHeld ? logits : null; }

    /**
     * Backward of the last loss forward's mean loss: dx (n, C) = dlogits · W (overwritten) and dW = dlogitsᵀ · x into dw,
     * with dlogits = dscale (softmax - onehot) (dscale: 1 / predicted positions for a mean).
     */
    void backward(Tensor x, Weight w, Tensor targets, float dscale, Tensor dx, WeightGradient dw) {
        String op = "ChunkedClassifier.backward";
        if (n < 0) throw new IllegalStateException(op + ": run lossForward first");
        shapes(op, x, w, n);
        need(op, "dx", dx, DType.F32, (long) n * dim);
        if (dw instanceof Accumulate a) need(op, "dw", a.dw, DType.F32, (long) vocab * dim);
        else if (dw instanceof Stream s) need(op, "the dW chunk buffer", s.buffer, DType.F32, (long) chunk * dim);
        int dev = device.nativeId();
        Tensor scratch = null;
        if (w instanceof Hybrid h) {
            need(op, "scratch", scratch = h.scratch.get(), DType.F32, (long) chunk * dim);
            if (!logitsHeld) h.q.quantizeInput(x, n);  // the workspace served other layers since forward
        }
        for (int v0 = 0; v0 < vocab; v0 += chunk) {
            int cols = Math.min(chunk, vocab - v0);
            if (!logitsHeld) logitsOf(x, w, n, v0, cols, logits);
            logitsHeld = false;
            check(EngineNative.qft_cross_entropy_chunk_grad(dev, logits.address(), n, cols, v0, targets.address(), lse.address(), dscale),
                    op, n, v0);
            if (w instanceof Fp32 f)
                check(EngineNative.qft_matmul_f32_nn(dev, logits.address(), f.w.address() + 4L * v0 * dim, n, cols, dim, dx.address(),
                        v0 == 0 ? 0 : 1, math.code()), op, n, v0);
            else if (w instanceof Hybrid h)
                h.q.backwardInputRows(logits.address(), n, v0, cols, dx, v0 > 0, scratch, math);
            if (dw instanceof Accumulate a) {
                check(EngineNative.qft_matmul_f32_tn(dev, logits.address(), x.address(), n, cols, dim, a.dw.address() + 4L * v0 * dim, 1, math.code()),
                        op, n, v0);
            } else if (dw instanceof Stream s) {
                check(EngineNative.qft_matmul_f32_tn(dev, logits.address(), x.address(), n, cols, dim, s.buffer.address(), 0, math.code()), op, n, v0);
                s.rows.ready(v0, cols, s.buffer.view(cols, dim));
            }
        }
        n = -1;
    }

    /** out (n, cols) = x · W[v0 : v0 + cols]ᵀ, rows of out packed with stride cols (a hybrid W: from x quantized before). */
    private void logitsOf(Tensor x, Weight w, int n, int v0, int cols, Tensor out) {
        if (w instanceof Fp32 f)
            check(EngineNative.qft_matmul_f32_nt(device.nativeId(), x.address(), f.w.address() + 4L * v0 * dim, n, cols, dim, out.address(), 0,
                    math.code()),
                    "ChunkedClassifier logits", n, v0);
        else if (w instanceof Hybrid h)
            h.q.forwardRows(x, n, v0, cols, out.address());
    }

    private void shapes(String op, Tensor x, Weight w, int n) {
        if (logits.isClosed()) throw new IllegalStateException(op + ": use after close");
        if (n < 0 || n > maxTokens) throw new IllegalArgumentException(op + ": " + n + " tokens exceed the capacity " + maxTokens);
        need(op, "x", x, DType.F32, (long) n * dim);
        if (w.rows() != vocab || w.cols() != dim)
            throw new IllegalArgumentException(op + ": the weight must be (vocab " + vocab + ", dim " + dim + "), got (" + w.rows() + ", " + w.cols() + ")");
        if (w instanceof Fp32 f) need(op, "w", f.w, DType.F32, (long) vocab * dim);
    }

    private void need(String op, String name, Tensor t, DType dtype, long elements) {
        if (t.dtype() != dtype || !t.device().equals(device) || t.numel() < elements)
            throw new IllegalArgumentException(op + ": " + name + " must be a " + dtype + " tensor on " + device + " with at least "
                    + elements + " elements (vocab " + vocab + ", dim " + dim + "), got " + t);
    }

    private void check(int status, String op, int n, int column) {
        NativeStatus.check(status, op + " (" + n + " tokens, vocab " + vocab + " in chunks of " + chunk + ", at column " + column + ") on " + device);
    }

    private Tensor alloc(DType dtype, long... shape) {
        return owned.add(Tensor.zeros(device, dtype, shape));
    }

    @Override
    public void close() {
        owned.close();
    }
}
