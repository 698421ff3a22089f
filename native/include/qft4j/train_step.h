/* Device-side pieces of a QFT training step that the Lion kernels do not cover: squared norms of
 * gradients (for global-norm clipping and the non-finite check), scaling in place (the clip factor
 * folded into INT8 gradient scales), and fp32 Lion with a gradient scale for the fp32 tensors
 * (embedding, classifier, norms) on any device. QFT: Li et al. 2023, arXiv 2310.07147, sec. 3;
 * Lion: Chen et al. 2023, arXiv 2302.06675; clipping by global norm as torch.nn.utils.clip_grad_norm_.
 *
 * Reductions are deterministic: one fp64 sum per row, accumulated in a fixed order, so CPU and CUDA
 * agree to fp64 rounding and every backend repeats itself bit for bit. A NaN/Inf input (or an INT8
 * block with a NaN scale, int8_blocks.h) gives a non-finite row sum: the caller skips the step. */
#ifndef QFT4J_TRAIN_STEP_H
#define QFT4J_TRAIN_STEP_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* codes: (rows, cols) int8, scales: (rows, ceil(cols/block)) fp32 (int8_blocks.h)
 * -> out: (rows) fp64, out[r] = sum_c (code[r,c] * scale[r, c/block])^2 in fp64. */
QFT_API int qft_int8_blocks_row_sumsq(int32_t device, int64_t codes, int64_t scales, int64_t rows, int64_t cols,
                                      int64_t block, int64_t out);
/* x: (rows, cols) fp32 -> out: (rows) fp64, out[r] = sum_c x[r,c]^2 in fp64. */
QFT_API int qft_f32_row_sumsq(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t out);
/* x: (rows, cols) fp32 -> codes, scales: the INT8 blocks of qft_int8_blocks_quantize (same scales, same
 * NaN handling), rounded stochastically: code = floor(v + u) with v = x * 127/absmax and u uniform in [0, 1)
 * from rng_bits(rng_row(rng_stream(seed, step, tensor), r), c) (qft_math.h), so E[code*scale] = x and
 * a run that restores (seed, step) rounds identically on either backend. Gradients are rounded this way
 * in QFT; pass a seed distinct from the weights' rounding seed so the two streams are independent.
 * x, codes and scales may hold only rows [row0, row0 + rows) of the tensor (row0 = 0: all of it): the key
 * then uses the tensor's row, row0 + r, so a tensor quantized a row range at a time (a gradient
 * that backward streams in chunks) gets the codes it would get at once. */
QFT_API int qft_int8_blocks_quantize_stochastic(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t block,
                                                int64_t seed, int64_t step, int64_t tensor, int64_t row0, int64_t codes,
                                                int64_t scales);
/* x: (n) fp32, x[i] *= *alpha in place; alpha: one fp32 on `device` (a clip factor computed there, so
 * no host sync is needed). */
QFT_API int qft_f32_scale(int32_t device, int64_t x, int64_t n, int64_t alpha);
/* w, g, m: (n) fp32. Lion (lion_step.h's element rule, bit-identical to qft_lion_fp32_step when
 * *grad_scale == 1) on the gradient g * *grad_scale; w and m updated in place, g unchanged. grad_scale:
 * one fp32 on `device`; NaN or Inf there skips the update (w and m unchanged). */
QFT_API int qft_lion_fp32_scaled_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t n, float lr, float beta1,
                                      float beta2, float weight_decay, int64_t grad_scale);
/* The fused-per-layer policy's clipping without a host sync (QFT's "update as soon as the gradient is
 * ready", sec. 3.3, with LOMO's per-tensor clipping, arXiv 2306.09782): n <= QFT_CLIP_MAX_TENSORS tensors, in the order
 * backward completed them, whose rows' sums of squared gradients lie consecutively in row_sums ((sum of
 * rows) fp64, from the row_sumsq ops above); rows: host array of n row counts. For each tensor in order,
 * norm = sqrt(its row sums added in row order) and factors[i] (fp32 on device) = NaN when the norm or an
 * earlier one of the step is non-finite (skip: a NaN gradient scale makes the Lion steps no-ops),
 * else clip_norm / norm when per_tensor and norm > clip_norm, else 1. state: (4) int64 on device,
 * zeroed at the step's start: {poisoned, tensors updated, tensors skipped, largest norm updated as fp64
 * bits}; read it once after the step. */
#define QFT_CLIP_MAX_TENSORS 32
QFT_API int qft_clip_factors(int32_t device, int64_t row_sums, const int64_t* rows, int64_t n, double clip_norm,
                             int32_t per_tensor, int64_t state, int64_t factors);

#ifdef __cplusplus
}
#endif
#endif
