/* Fused softmax cross-entropy over the vocabulary with an ignore mask (reference: llm.c
 * `crossentropy_softmax_backward` / `fused_classifier`).
 *
 * logits, dlogits: (n, vocab) fp32 row-major; targets: (n) int32, a negative target is ignored;
 * losses: (n) fp32.
 *   losses[t]     = logsumexp(logits[t, :]) - logits[t, targets[t]]   (0 where ignored)
 *   dlogits[t, j] = dscale * (softmax(logits[t, :])[j] - [j == targets[t]])   (0 rows where ignored)
 * dscale is d(total loss)/d(loss per position), 1 / (number of non-ignored positions) for a mean loss.
 * The row sum of exponentials is accumulated in double on the CPU and in float on CUDA.
 * A target >= vocab makes the call return QFT_EINVAL. */
#ifndef QFT4J_CROSS_ENTROPY_H
#define QFT4J_CROSS_ENTROPY_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_cross_entropy(int32_t device, int64_t logits, int64_t targets, int64_t n, int64_t vocab, float dscale,
                              int64_t losses, int64_t dlogits);

#ifdef __cplusplus
}
#endif
#endif
