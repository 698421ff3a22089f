/* Softmax cross-entropy with an ignore mask over a vocabulary taken in column chunks, so that a classifier
 * never holds all (n, vocab) logits at once (issue 10: "cross-entropy without materialising full logits").
 * The running max / sum of exponentials is the online softmax of Milakov & Gimelshein 2018 (arXiv
 * 1805.02867), as in FlashAttention; loss and gradient are llm.c's `crossentropy_forward` /
 * `crossentropy_softmax_backward`, and one chunk of the whole vocabulary is the usual fused op.
 *
 * Two passes over the chunks. A chunk holds vocabulary columns [col0, col0 + cols):
 *   logits: (n, cols) fp32 row-major; targets: (n) int32, negative = ignored;
 *   max: (n) fp32, sum: (n) fp64, target_logit: (n) fp32 — running statistics; start at -inf, 0, 0
 *        (qft_cross_entropy_chunk_begin sets them);
 *   lse: (n) fp32 log-sum-exp per row; losses: (n) fp32.
 * Pass 1, every chunk:  qft_cross_entropy_chunk_stats folds the chunk into max/sum and takes target_logit
 *                       from the chunk that holds the target's column.
 * then once:            qft_cross_entropy_chunk_finish: lse = max + log(sum), losses = lse - target_logit
 *                       (both 0 where ignored); QFT_EINVAL when a target is >= vocab.
 * Pass 2, every chunk (its logits computed again): qft_cross_entropy_chunk_grad turns the chunk into its
 *                       gradient in place: dscale * (exp(logit - lse) - [column == target]), 0 rows where ignored.
 * The sum is fp64 on both backends (a CUDA block sums its chunk row in fp32 first), so the chunk count
 * changes the loss only by rounding. */
#ifndef QFT4J_CROSS_ENTROPY_H
#define QFT4J_CROSS_ENTROPY_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_cross_entropy_chunk_begin(int32_t device, int64_t n, int64_t max, int64_t sum, int64_t target_logit);
QFT_API int qft_cross_entropy_chunk_stats(int32_t device, int64_t logits, int64_t n, int64_t cols, int64_t col0,
                                          int64_t targets, int64_t max, int64_t sum, int64_t target_logit);
QFT_API int qft_cross_entropy_chunk_finish(int32_t device, int64_t n, int64_t vocab, int64_t targets, int64_t max,
                                           int64_t sum, int64_t target_logit, int64_t lse, int64_t losses);
QFT_API int qft_cross_entropy_chunk_grad(int32_t device, int64_t logits, int64_t n, int64_t cols, int64_t col0,
                                         int64_t targets, int64_t lse, float dscale);

#ifdef __cplusplus
}
#endif
#endif
