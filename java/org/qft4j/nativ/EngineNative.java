package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the LLaMA engine's fp32 ops: {@code native/include/qft4j/embedding.h}, {@code rmsnorm.h},
 * {@code rope.h}, {@code attention.h}, {@code swiglu.h}, {@code cross_entropy.h}, {@code matmul_f32.h} and
 * {@code residual.h}. Each runs the C++ reference on the CPU (device -1) or the CUDA kernel on a GPU. Addresses are
 * (device, int64) pairs from {@link CoreNative#qft_alloc}; load through {@link org.qft4j.Natives}.
 */
@Platform(include = {"qft4j/embedding.h", "qft4j/rmsnorm.h", "qft4j/rope.h", "qft4j/attention.h", "qft4j/swiglu.h",
        "qft4j/cross_entropy.h", "qft4j/matmul_f32.h", "qft4j/residual.h"}, link = "qft4j")
public final class EngineNative {
    private EngineNative() {}

    public static final int QFT_ROPE_ADJACENT_PAIRS = 0;
    public static final int QFT_ROPE_ROTATE_HALF = 1;

    public static native int qft_embedding_forward(int device, long table, long vocab, long dim, long ids, long n, long out);

    public static native int qft_embedding_forward_hybrid(int device, long codes, long scales, long rowPtr, long colIdx, long values,
            long vocab, long dim, long ids, long n, long out);

    public static native int qft_embedding_backward(int device, long dout, long ids, long n, long vocab, long dim, long row0, long rows,
            long dtable);

    public static native int qft_rmsnorm_forward(int device, long x, long w, long n, long c, float eps, long y, long rstd);

    public static native int qft_rmsnorm_backward(int device, long dy, long x, long w, long rstd, long n, long c, long dx, long dw);

    public static native int qft_rope(int device, long x, long n, long T, long heads, long headSize, int layout, long cos,
            long sin, int inverse);

    public static native int qft_attention_forward(int device, long q, long k, long v, long B, long T, long nh, long nkv,
            long hs, long lse, long out, int math);

    public static native int qft_attention_backward(int device, long dout, long q, long k, long v, long out, long lse, long B,
            long T, long nh, long nkv, long hs, long delta, long dq, long dk, long dv, int math);

    public static native int qft_swiglu_forward(int device, long h1, long h3, long n, long g);

    public static native int qft_swiglu_backward(int device, long dg, long h1, long h3, long n, long dh1, long dh3);

    public static native int qft_cross_entropy_chunk_begin(int device, long n, long max, long sum, long targetLogit);

    public static native int qft_cross_entropy_chunk_stats(int device, long logits, long n, long cols, long col0, long targets,
            long max, long sum, long targetLogit);

    public static native int qft_cross_entropy_chunk_finish(int device, long n, long vocab, long targets, long max, long sum,
            long targetLogit, long lse, long losses);

    public static native int qft_cross_entropy_chunk_grad(int device, long logits, long n, long cols, long col0, long targets,
            long lse, float dscale);

    public static native int qft_matmul_f32_nt(int device, long x, long w, long n, long out, long in, long y, int accumulate, int math);

    public static native int qft_matmul_f32_nn(int device, long dy, long w, long n, long out, long in, long dx, int accumulate, int math);

    public static native int qft_matmul_f32_tn(int device, long dy, long x, long n, long out, long in, long dw, int accumulate, int math);

    public static native int qft_residual_add(int device, long y, long x, long n);
}
