package org.qft4j.llama.device;

import java.util.Objects;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.RopeLayout;
import org.qft4j.nativ.EngineNative;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * The LLaMA engine's fp32 ops on device tensors: the C++ references on {@link Device#CPU}, the CUDA kernels on a GPU
 * (native/include/qft4j/{embedding,rmsnorm,rope,attention,swiglu,cross_entropy,matmul_f32,residual}.h).
 *
 * <p>Ops work on the leading elements of their tensors, so buffers allocated once for a capacity serve every smaller
 * batch: {@code n} is the number of rows (tokens) used. Every tensor must be on the device of the first one, have the
 * stated dtype and hold at least the elements the op touches; violations throw IllegalArgumentException with the shapes.
 */
public final class DeviceOps {
    private DeviceOps() {}

    /** out (n, C) = table[ids[i], :]; table (V, C), ids (n) I32 in [0, V). */
    public static void embeddingForward(Tensor table, Tensor ids, int n, Tensor out) {
        String op = "embeddingForward";
        Device d = device(table);
        matrix(op, "table", table);
        long v = table.dim(0), c = table.dim(1);
        need(op, "ids", ids, DType.I32, n, d);
        need(op, "out", out, DType.F32, n * c, d);
        check(EngineNative.qft_embedding_forward(d.nativeId(), table.address(), v, c, ids.address(), n, out.address()), op, table);
    }

    /** out (n, C) = row ids[i] of a hybrid INT8 table (V, C) (dense codes times the row scale, outliers in place). */
    public static void embeddingForward(HybridWeight table, Tensor ids, int n, Tensor out) {
        String op = "embeddingForward (hybrid INT8 table)";
        Device d = device(ids);
        long v = table.rows(), c = table.cols();
        if (!table.device().equals(d)) throw new IllegalArgumentException(op + ": table " + table + " is not on " + d);
        need(op, "ids", ids, DType.I32, n, d);
        need(op, "out", out, DType.F32, n * c, d);
        check(EngineNative.qft_embedding_forward_hybrid(d.nativeId(), table.codes().address(), table.scales().address(), table.rowPtr().address(),
                table.colIdx().address(), table.values().address(), v, c, ids.address(), n, out.address()), op, ids);
    }

    /** dtable[ids[i], :] += dout[i, :]; dout (n, C), dtable (V, C). */
    public static void embeddingBackward(Tensor dout, Tensor ids, int n, Tensor dtable) {
        matrix("embeddingBackward", "dtable", dtable);
        embeddingBackwardRows(dout, ids, n, Math.toIntExact(dtable.dim(0)), 0, Math.toIntExact(dtable.dim(0)), dtable);
    }

    /**
     * Rows [row0, row0 + rows) of the (vocab, C) table's gradient: rowsOut (rows, C) += dout[i, :] at row ids[i] - row0 for
     * the ids in that range (every id must be in [0, vocab)).
     */
    public static void embeddingBackwardRows(Tensor dout, Tensor ids, int n, int vocab, int row0, int rows, Tensor rowsOut) {
        String op = "embeddingBackward";
        Device d = device(dout);
        matrix(op, "dtable", rowsOut);
        long c = rowsOut.dim(1);
        need(op, "dout", dout, DType.F32, n * c, d);
        need(op, "ids", ids, DType.I32, n, d);
        need(op, "dtable", rowsOut, DType.F32, rows * c, d);
        check(EngineNative.qft_embedding_backward(d.nativeId(), dout.address(), ids.address(), n, vocab, c, row0, rows, rowsOut.address()), op,
                rowsOut);
    }

    /** y (n, C) = w * x * rstd, rstd (n) = 1/sqrt(mean(x^2) + eps); C = w.numel(). */
    public static void rmsnormForward(Tensor x, Tensor w, int n, float eps, Tensor y, Tensor rstd) {
        String op = "rmsnormForward";
        Device d = device(x);
        long c = w.numel();
        need(op, "x", x, DType.F32, n * c, d);
        need(op, "w", w, DType.F32, c, d);
        need(op, "y", y, DType.F32, n * c, d);
        need(op, "rstd", rstd, DType.F32, n, d);
        check(EngineNative.qft_rmsnorm_forward(d.nativeId(), x.address(), w.address(), n, c, eps, y.address(), rstd.address()), op, x);
    }

    /** dx (n, C) += d/dx, dw (C) += d/dw of the forward that saved rstd. */
    public static void rmsnormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, int n, Tensor dx, Tensor dw) {
        String op = "rmsnormBackward";
        Device d = device(dy);
        long c = w.numel();
        need(op, "dy", dy, DType.F32, n * c, d);
        need(op, "x", x, DType.F32, n * c, d);
        need(op, "w", w, DType.F32, c, d);
        need(op, "rstd", rstd, DType.F32, n, d);
        need(op, "dx", dx, DType.F32, n * c, d);
        need(op, "dw", dw, DType.F32, c, d);
        check(EngineNative.qft_rmsnorm_backward(d.nativeId(), dy.address(), x.address(), w.address(), rstd.address(), n, c,
                dx.address(), dw.address()), op, dy);
    }

    /**
     * Rotates x (n, heads * headSize) in place, row r at position r % T; inverse rotates back (the backward).
     * cos, sin: (>= T, headSize / 2) from {@link #ropeTables}.
     */
    public static void rope(Tensor x, int n, int T, int heads, int headSize, RopeLayout layout, Tensor cos, Tensor sin, boolean inverse) {
        String op = "rope";
        Device d = device(x);
        if (T <= 0 || n % T != 0 || headSize % 2 != 0)
            throw new IllegalArgumentException(op + ": need n (" + n + ") a multiple of T (" + T + ") and an even head size, got " + headSize);
        need(op, "x", x, DType.F32, (long) n * heads * headSize, d);
        need(op, "cos", cos, DType.F32, (long) T * (headSize / 2), d);
        need(op, "sin", sin, DType.F32, (long) T * (headSize / 2), d);
        check(EngineNative.qft_rope(d.nativeId(), x.address(), n, T, heads, headSize, ropeLayout(layout), cos.address(), sin.address(),
                inverse ? 1 : 0), op, x);
    }

    /**
     * RoPE tables {cos, sin}, each (T, headSize/2) row-major, in llama2.c's float arithmetic (as the Java engine's Rope):
     * freq = 1 / theta^(2i / headSize), angle = pos * freq.
     */
    public static float[][] ropeTables(LlamaConfig cfg, int T) {
        int hs = cfg.headSize(), half = hs / 2;
        float[] cos = new float[T * half], sin = new float[T * half];
        for (int pos = 0; pos < T; pos++)
            for (int i = 0; i < half; i++) {
                float freq = 1.0f / (float) Math.pow(cfg.ropeTheta(), (2 * i) / (float) hs);
                float val = pos * freq;
                cos[pos * half + i] = (float) Math.cos(val);
                sin[pos * half + i] = (float) Math.sin(val);
            }
        return new float[][] {cos, sin};
    }

    /**
     * Causal GQA attention: q (B*T, nh*hs), k, v (B*T, nkv*hs) to out (B*T, nh*hs) and lse (B, nh, T), the log-sum-exp
     * of each query row's scaled scores, which is all the backward needs besides out (FlashAttention-2's saved state).
     * {@code math} is the arithmetic of its products ({@link Fp32Math}; TF32 runs on CUDA tensor cores).
     */
    public static void attentionForward(Tensor q, Tensor k, Tensor v, int batch, int T, int nh, int nkv, int hs, Tensor lse, Tensor out,
                                        Fp32Math math) {
        String op = "attentionForward";
        Objects.requireNonNull(math, op + ": math");
        Device d = device(q);
        heads(op, nh, nkv);
        long n = (long) batch * T;
        need(op, "q", q, DType.F32, n * nh * hs, d);
        need(op, "k", k, DType.F32, n * nkv * hs, d);
        need(op, "v", v, DType.F32, n * nkv * hs, d);
        need(op, "lse", lse, DType.F32, n * nh, d);
        need(op, "out", out, DType.F32, n * nh * hs, d);
        check(EngineNative.qft_attention_forward(d.nativeId(), q.address(), k.address(), v.address(), batch, T, nh, nkv, hs,
                lse.address(), out.address(), math.code()), op, q);
    }

    /**
     * dq, dk, dv (overwritten) of the forward that produced out and lse (probabilities are recomputed); delta (B, nh, T)
     * receives rowsum(dout * out), the softmax backward's per-row weight. {@code math}: as in {@link #attentionForward}.
     */
    public static void attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, int batch, int T, int nh,
                                         int nkv, int hs, Tensor delta, Tensor dq, Tensor dk, Tensor dv, Fp32Math math) {
        String op = "attentionBackward";
        Objects.requireNonNull(math, op + ": math");
        Device d = device(dout);
        heads(op, nh, nkv);
        long n = (long) batch * T;
        need(op, "dout", dout, DType.F32, n * nh * hs, d);
        need(op, "q", q, DType.F32, n * nh * hs, d);
        need(op, "k", k, DType.F32, n * nkv * hs, d);
        need(op, "v", v, DType.F32, n * nkv * hs, d);
        need(op, "out", out, DType.F32, n * nh * hs, d);
        need(op, "lse", lse, DType.F32, n * nh, d);
        need(op, "delta", delta, DType.F32, n * nh, d);
        need(op, "dq", dq, DType.F32, n * nh * hs, d);
        need(op, "dk", dk, DType.F32, n * nkv * hs, d);
        need(op, "dv", dv, DType.F32, n * nkv * hs, d);
        check(EngineNative.qft_attention_backward(d.nativeId(), dout.address(), q.address(), k.address(), v.address(), out.address(),
                lse.address(), batch, T, nh, nkv, hs, delta.address(), dq.address(), dk.address(), dv.address(), math.code()), op, dout);
    }

    /** g = silu(h1) * h3 over the first n values. */
    public static void swigluForward(Tensor h1, Tensor h3, long n, Tensor g) {
        String op = "swigluForward";
        Device d = device(h1);
        need(op, "h1", h1, DType.F32, n, d);
        need(op, "h3", h3, DType.F32, n, d);
        need(op, "g", g, DType.F32, n, d);
        check(EngineNative.qft_swiglu_forward(d.nativeId(), h1.address(), h3.address(), n, g.address()), op, h1);
    }

    /** dh1, dh3 (overwritten) from dg; in place allowed: dh1 may be h1 and dh3 may be h3. */
    public static void swigluBackward(Tensor dg, Tensor h1, Tensor h3, long n, Tensor dh1, Tensor dh3) {
        String op = "swigluBackward";
        Device d = device(dg);
        need(op, "dg", dg, DType.F32, n, d);
        need(op, "h1", h1, DType.F32, n, d);
        need(op, "h3", h3, DType.F32, n, d);
        need(op, "dh1", dh1, DType.F32, n, d);
        need(op, "dh3", dh3, DType.F32, n, d);
        check(EngineNative.qft_swiglu_backward(d.nativeId(), dg.address(), h1.address(), h3.address(), n, dh1.address(), dh3.address()),
                op, dg);
    }

    /** y (n, out) (+)= x (n, in) · wᵀ for w (out, in), in the arithmetic {@code math}. */
    public static void linear(Tensor x, Tensor w, int n, Tensor y, boolean accumulate, Fp32Math math) {
        String op = "linear";
        Objects.requireNonNull(math, op + ": math");
        Device d = device(x);
        matrix(op, "w", w);
        long out = w.dim(0), in = w.dim(1);
        need(op, "x", x, DType.F32, n * in, d);
        need(op, "w", w, DType.F32, out * in, d);
        need(op, "y", y, DType.F32, n * out, d);
        check(EngineNative.qft_matmul_f32_nt(d.nativeId(), x.address(), w.address(), n, out, in, y.address(), accumulate ? 1 : 0,
                math.code()), op, w);
    }

    /** dx (n, in) (+)= dy (n, out) · w for w (out, in), in the arithmetic {@code math}. */
    public static void linearBackwardInput(Tensor dy, Tensor w, int n, Tensor dx, boolean accumulate, Fp32Math math) {
        String op = "linearBackwardInput";
        Objects.requireNonNull(math, op + ": math");
        Device d = device(dy);
        matrix(op, "w", w);
        long out = w.dim(0), in = w.dim(1);
        need(op, "dy", dy, DType.F32, n * out, d);
        need(op, "w", w, DType.F32, out * in, d);
        need(op, "dx", dx, DType.F32, n * in, d);
        check(EngineNative.qft_matmul_f32_nn(d.nativeId(), dy.address(), w.address(), n, out, in, dx.address(), accumulate ? 1 : 0,
                math.code()), op, w);
    }

    /** dw (out, in) (+)= dy (n, out)ᵀ · x (n, in), in the arithmetic {@code math}. */
    public static void linearBackwardWeight(Tensor dy, Tensor x, int n, Tensor dw, boolean accumulate, Fp32Math math) {
        String op = "linearBackwardWeight";
        Objects.requireNonNull(math, op + ": math");
        Device d = device(dy);
        matrix(op, "dw", dw);
        long out = dw.dim(0), in = dw.dim(1);
        need(op, "dy", dy, DType.F32, n * out, d);
        need(op, "x", x, DType.F32, n * in, d);
        need(op, "dw", dw, DType.F32, out * in, d);
        check(EngineNative.qft_matmul_f32_tn(d.nativeId(), dy.address(), x.address(), n, out, in, dw.address(), accumulate ? 1 : 0,
                math.code()), op, dw);
    }

    /** y += x over the first n values. */
    public static void residualAdd(Tensor y, Tensor x, long n) {
        String op = "residualAdd";
        Device d = device(y);
        need(op, "y", y, DType.F32, n, d);
        need(op, "x", x, DType.F32, n, d);
        check(EngineNative.qft_residual_add(d.nativeId(), y.address(), x.address(), n), op, y);
    }

    static int ropeLayout(RopeLayout layout) {
        return layout == RopeLayout.ADJACENT_PAIRS ? EngineNative.QFT_ROPE_ADJACENT_PAIRS : EngineNative.QFT_ROPE_ROTATE_HALF;
    }

    private static Device device(Tensor first) {
        Natives.load(EngineNative.class);
        return first.device();
    }

    private static void need(String op, String name, Tensor t, DType dtype, long elements, Device device) {
        if (t.dtype() != dtype || !t.device().equals(device) || t.numel() < elements)
            throw new IllegalArgumentException(op + ": " + name + " must be a " + dtype + " tensor on " + device + " with at least "
                    + elements + " elements, got " + t);
        if (elements < 0) throw new IllegalArgumentException(op + ": negative size for " + name + " (" + elements + " elements)");
    }

    private static void matrix(String op, String name, Tensor t) {
        if (t.rank() != 2) throw new IllegalArgumentException(op + ": " + name + " must be a (rows, cols) matrix, got " + t);
    }

    private static void heads(String op, int nh, int nkv) {
        if (nh <= 0 || nkv <= 0 || nh % nkv != 0)
            throw new IllegalArgumentException(op + ": " + nh + " query heads are not a multiple of " + nkv + " kv heads");
    }

    private static void check(int status, String op, Tensor t) {
        NativeStatus.check(status, op + " on " + t.device());
    }
}
