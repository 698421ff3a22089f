/* INT8 blocks: the uniform symmetric INT8 format of QFT's gradients and Lion momentum
 * (Li et al. 2023, arXiv 2310.07147, sec. 3; block-wise scales as in bitsandbytes' 8-bit optimizers,
 * Dettmers et al. 2022, arXiv 2110.02861).
 *
 * A (rows, cols) tensor is cut into blocks of `block` consecutive elements inside each row (the last
 * block of a row may be shorter; blocks never cross rows, so block >= cols means one scale per row):
 *   nb = ceil(cols / block);  scales: (rows, nb) fp32;  codes: (rows, cols) int8 row-major
 *   scale[r,b] = max |x[r, b*block ..)| / 127   (1 for an all-zero block)
 *   code[r,c]  = round_half_even(clamp(x[r,c] * (127 / absmax), -127, 127))   (the reciprocal of the
 *                block's absmax once per block, then a multiply per element: qft_math.h)
 * With preserve_sign != 0 a nonzero x never gets code 0: the code is nudged to ±1 (momentum).
 * A block holding NaN/Inf gets a NaN scale and zero codes; the call still returns QFT_OK, without a
 * host sync, and the Lion step's non-finite pre-pass turns the step into a no-op (lion_step.h). */
#ifndef QFT4J_INT8_BLOCKS_H
#define QFT4J_INT8_BLOCKS_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x: (rows, cols) fp32 -> codes: (rows, cols) int8, scales: (rows, ceil(cols/block)) fp32. */
QFT_API int qft_int8_blocks_quantize(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t block,
                                     int32_t preserve_sign, int64_t codes, int64_t scales);
/* out: (rows, cols) fp32 = codes * scales. */
QFT_API int qft_int8_blocks_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t rows, int64_t cols,
                                       int64_t block, int64_t out);

#ifdef __cplusplus
}
#endif
#endif
