/* RMSNorm over rows (LLaMA's pre-norm; reference: llama2.c `rmsnorm`, llm.c's layernorm kernels
 * without mean and bias).
 *
 * x, y, dy, dx: (n, c) fp32 row-major; w, dw: (c) fp32; rstd: (n) fp32.
 *   forward:  rstd[t] = 1 / sqrt(mean_j x[t,j]^2 + eps);  y[t,j] = w[j] * (rstd[t] * x[t,j])
 *   backward: dx[t,j] += rstd[t] * w[j] * dy[t,j] - rstd[t]^3 / c * x[t,j] * sum_k w[k] dy[t,k] x[t,k]
 *             dw[j]   += sum_t dy[t,j] * x[t,j] * rstd[t]   (summed over t in order on both backends)
 * Backward accumulates into dx and dw; rstd is what forward saved. */
#ifndef QFT4J_RMSNORM_H
#define QFT4J_RMSNORM_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_rmsnorm_forward(int32_t device, int64_t x, int64_t w, int64_t n, int64_t c, float eps, int64_t y,
                                int64_t rstd);
QFT_API int qft_rmsnorm_backward(int32_t device, int64_t dy, int64_t x, int64_t w, int64_t rstd, int64_t n, int64_t c,
                                 int64_t dx, int64_t dw);

#ifdef __cplusplus
}
#endif
#endif
