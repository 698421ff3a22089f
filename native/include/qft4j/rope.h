/* Rotary position embedding (RoFormer, Su et al. arXiv 2104.09864), applied in place to q or k.
 * References: llama2.c `forward` (pairs (2i, 2i+1), Meta's layout) and Hugging Face transformers
 * `apply_rotary_pos_emb` / `rotate_half` (pairs (i, i + head_size/2)).
 *
 * x: (n, heads * head_size) fp32 row-major, row r holding the token at position r % T (n = batch * T);
 * cos, sin: (>= T, head_size / 2) fp32 tables, cos[p, i] = cos(p * theta^(-2i / head_size)).
 * Each pair (a, b) of every head becomes (a cos - b sin, a sin + b cos); inverse = 1 rotates by the
 * negative angle, which is the backward of the forward rotation (rotations are orthogonal). */
#ifndef QFT4J_ROPE_H
#define QFT4J_ROPE_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QFT_ROPE_ADJACENT_PAIRS 0 /* (2i, 2i+1): Meta, llama2.c */
#define QFT_ROPE_ROTATE_HALF 1    /* (i, i + head_size/2): Hugging Face */

QFT_API int qft_rope(int32_t device, int64_t x, int64_t n, int64_t T, int64_t heads, int64_t head_size, int32_t layout,
                     int64_t cos, int64_t sin, int32_t inverse);

#ifdef __cplusplus
}
#endif
#endif
