/* Causal grouped-query self-attention, forward and backward, over a batch of equal-length
 * sequences (references: llama2.c `forward` "multihead attention", llm.c `attention_forward` /
 * `attention_backward`, which likewise keep the softmax probabilities for backward).
 *
 * q, dq: (B*T, nh*hs); k, v, dk, dv: (B*T, nkv*hs); out, dout: (B*T, nh*hs), all fp32 row-major;
 * att, scratch: (B, nh, T, T) fp32. Query head h reads key/value head h / (nh / nkv).
 *   forward:  att[b,h,t,s] = softmax_s<=t(q[b,t,h,:] · k[b,s,kvh,:] / sqrt(hs)), 0 for s > t;
 *             out[b,t,h,:] = sum_s att[b,h,t,s] v[b,s,kvh,:]
 *   backward: dq, dk, dv (overwritten) from dout and the saved att; scratch receives the score
 *             gradients d(q·k/sqrt(hs)) (rows s > t are 0).
 * Every sum runs over positions in increasing order: the results are deterministic. */
#ifndef QFT4J_ATTENTION_H
#define QFT4J_ATTENTION_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_attention_forward(int32_t device, int64_t q, int64_t k, int64_t v, int64_t B, int64_t T, int64_t nh,
                                  int64_t nkv, int64_t hs, int64_t att, int64_t out);
QFT_API int qft_attention_backward(int32_t device, int64_t dout, int64_t q, int64_t k, int64_t v, int64_t att,
                                   int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs, int64_t scratch,
                                   int64_t dq, int64_t dk, int64_t dv);

#ifdef __cplusplus
}
#endif
#endif
