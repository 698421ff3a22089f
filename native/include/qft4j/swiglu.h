/* SwiGLU gate of the LLaMA feed-forward block (Shazeer, arXiv 2002.05202; reference: llama2.c
 * `forward`, "SwiGLU non-linearity").
 *
 * h1, h3, g, dg, dh1, dh3: (n) fp32 (any shape flattened).
 *   forward:  g = silu(h1) * h3, silu(h) = h * sigmoid(h)
 *   backward: dh3 = dg * silu(h1);  dh1 = dg * h3 * s * (1 + h1 * (1 - s)), s = sigmoid(h1)   (overwrite)
 *             in place allowed: dh1 may be h1 and dh3 may be h3 (each element is read before it is written),
 *             so a backward needs no buffers beyond forward's (issue 10: memory at LLaMA-7B). */
#ifndef QFT4J_SWIGLU_H
#define QFT4J_SWIGLU_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_swiglu_forward(int32_t device, int64_t h1, int64_t h3, int64_t n, int64_t g);
QFT_API int qft_swiglu_backward(int32_t device, int64_t dg, int64_t h1, int64_t h3, int64_t n, int64_t dh1, int64_t dh3);

#ifdef __cplusplus
}
#endif
#endif
