/* fp32 matrix products of a linear layer y = x Wᵀ (no bias), forward and both backward products
 * (reference: llm.c `matmul_forward` / `matmul_backward`, llama2.c `matmul`).
 *
 * x, dx: (n, in); y, dy: (n, out); w, dw: (out, in); all fp32 row-major.
 *   qft_matmul_f32_nt: y  (+)= x  · wᵀ   (forward; accumulate = 0 overwrites y)
 *   qft_matmul_f32_nn: dx (+)= dy · w    (gradient of the input)
 *   qft_matmul_f32_tn: dw (+)= dyᵀ · x   (gradient of the weight)
 * Every output is one sum over the reduced index in increasing order, so results are deterministic;
 * CUDA uses a register-tiled SIMT SGEMM (128x128 block tiles, 8x8 outputs per thread, double-buffered
 * shared-memory slices of 8) with fused multiply-adds, fp32 throughout (no TF32). */
#ifndef QFT4J_MATMUL_F32_H
#define QFT4J_MATMUL_F32_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_matmul_f32_nt(int32_t device, int64_t x, int64_t w, int64_t n, int64_t out, int64_t in, int64_t y,
                              int32_t accumulate);
QFT_API int qft_matmul_f32_nn(int32_t device, int64_t dy, int64_t w, int64_t n, int64_t out, int64_t in, int64_t dx,
                              int32_t accumulate);
QFT_API int qft_matmul_f32_tn(int32_t device, int64_t dy, int64_t x, int64_t n, int64_t out, int64_t in, int64_t dw,
                              int32_t accumulate);

#ifdef __cplusplus
}
#endif
#endif
