package org.qft4j.llama.device;

/**
 * The arithmetic of the engine's fp32 products: the linear layers' fp32 matmuls (the classifier, the fp32
 * backward) and attention. {@link #TF32} rounds every operand to TF32 (10 mantissa bits, round half away
 * from zero) and sums in fp32: on CUDA the kernels then run on tensor cores (mma.sync .tf32); the CPU
 * backend rounds the same way, so a CPU run models the GPU's arithmetic. See {@code native/include/qft4j/core.h}.
 */
public enum Fp32Math {
    /** fp32 multiplies and sums (CUDA: SIMT FMA kernels). */
    FP32,
    /** Operands rounded to TF32, fp32 sums (CUDA: tensor cores). */
    TF32;

    /** The native {@code QFT_MATH_*} code. */
    public int code() {
        return ordinal();
    }
}
