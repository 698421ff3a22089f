/* Causal grouped-query self-attention, forward and backward, over a batch of equal-length
 * sequences (references: llama2.c `forward` "multihead attention", llm.c `attention_forward` /
 * `attention_backward`; the saved state and the backward's delta trick follow FlashAttention-2,
 * Dao 2023, arXiv 2307.08691, so nothing of size T x T is kept between forward and backward).
 *
 * q, dq, out, dout: (B*T, nh*hs); k, v, dk, dv: (B*T, nkv*hs), all fp32 row-major;
 * lse, delta: (B, nh, T) fp32. Query head h reads key/value head h / (nh / nkv).
 * With scores z[b,h,t,s] = (q[b,t,h,:] · k[b,s,kvh,:]) / sqrt(hs) for s <= t:
 *   forward:  lse[b,h,t] = log sum_s<=t exp(z[b,h,t,s]) (natural log);
 *             out[b,t,h,:] = sum_s<=t exp(z[b,h,t,s] - lse[b,h,t]) v[b,s,kvh,:]
 *   backward: dq, dk, dv (overwritten) from dout, the forward's out and lse (probabilities are
 *             recomputed); delta receives rowsum(dout * out) = sum_s p[s] (dout · v[s]), the softmax
 *             backward's per-row weight.
 * Every sum runs over positions in a fixed order: the results are deterministic. The CUDA kernels
 * support head sizes up to 128.
 * math (core.h): QFT_MATH_FP32 multiplies in fp32 (CUDA: SIMT kernels); QFT_MATH_TF32 rounds both
 * factors of every product (q·k and dout·v for the scores and their gradients, p·v for out, dS·k for dq,
 * dS·q for dk, p·dout for dv) to TF32 and sums in fp32 (CUDA: mma.sync tensor-core kernels, sm_80+; head
 * sizes over 64 need 150 KB of shared memory per block: A100, H100, else QFT_EUNSUPPORTED;
 * the CPU reference rounds the same operands; like the kernels it rounds the unnormalised exp(z - max)
 * and divides out by the row sum after, and takes delta = rowsum(dout * out)). The softmax itself, lse
 * and delta stay fp32 in both. Any other value is QFT_EINVAL. */
#ifndef QFT4J_ATTENTION_H
#define QFT4J_ATTENTION_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_attention_forward(int32_t device, int64_t q, int64_t k, int64_t v, int64_t B, int64_t T, int64_t nh,
                                  int64_t nkv, int64_t hs, int64_t lse, int64_t out, int32_t math);
QFT_API int qft_attention_backward(int32_t device, int64_t dout, int64_t q, int64_t k, int64_t v, int64_t out,
                                   int64_t lse, int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs, int64_t delta,
                                   int64_t dq, int64_t dk, int64_t dv, int32_t math);

#ifdef __cplusplus
}
#endif
#endif
