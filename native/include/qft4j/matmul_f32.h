/* fp32 matrix products of a linear layer y = x Wᵀ (no bias), forward and both backward products
 * (reference: llm.c `matmul_forward` / `matmul_backward`, llama2.c `matmul`).
 *
 * x, dx: (n, in); y, dy: (n, out); w, dw: (out, in); all fp32 row-major.
 *   qft_matmul_f32_nt: y  (+)= x  · wᵀ   (forward; accumulate = 0 overwrites y)
 *   qft_matmul_f32_nn: dx (+)= dy · w    (gradient of the input)
 *   qft_matmul_f32_tn: dw (+)= dyᵀ · x   (gradient of the weight)
 * math (core.h): QFT_MATH_FP32 multiplies in fp32; CUDA runs a register-tiled SIMT SGEMM (128x128 block
 * tiles, 8x8 outputs per thread, double-buffered shared-memory slices of 8) with fused multiply-adds.
 * QFT_MATH_TF32 rounds both operands to TF32 first; CUDA runs mma.sync tensor-core tiles (128x128 block
 * tiles, 64x32 per warp, cp.async double-buffered slices of 16): on an H100 the TF32 tensor-core peak
 * is 7.4x the fp32 SIMT peak (494.7 vs 67 TFLOPS).
 * The CPU references sum each output over the reduced index in increasing order (deterministic); the CUDA
 * kernels are deterministic run to run, their sums in a different order. */
#ifndef QFT4J_MATMUL_F32_H
#define QFT4J_MATMUL_F32_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_matmul_f32_nt(int32_t device, int64_t x, int64_t w, int64_t n, int64_t out, int64_t in, int64_t y,
                              int32_t accumulate, int32_t math);
QFT_API int qft_matmul_f32_nn(int32_t device, int64_t dy, int64_t w, int64_t n, int64_t out, int64_t in, int64_t dx,
                              int32_t accumulate, int32_t math);
QFT_API int qft_matmul_f32_tn(int32_t device, int64_t dy, int64_t x, int64_t n, int64_t out, int64_t in, int64_t dw,
                              int32_t accumulate, int32_t math);

#ifdef __cplusplus
}
#endif
#endif
