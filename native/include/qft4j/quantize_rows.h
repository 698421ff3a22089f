/* Per-row symmetric absmax INT8 quantization (the quantize-on-the-fly helper of the INT8 linear
 * layer; LLM.int8() vector-wise quantization, Dettmers et al. 2022, arXiv 2208.07339).
 *
 *   scale[r] = max_c |x[r,c]| / 127   (1 when the row is all zero, so that dequantize is exact)
 *   q[r,c]   = clamp(round_half_even(x[r,c] / scale[r]), -127, 127)
 *
 * x: (rows, cols) fp32 row-major; q: (rows, cols) int8 row-major; scales: (rows) fp32.
 * A non-finite value in a row makes that row's scale NaN and the call returns QFT_EINVAL
 * after writing every row, so the caller can skip the step. */
#ifndef QFT4J_QUANTIZE_ROWS_H
#define QFT4J_QUANTIZE_ROWS_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_quantize_rows_absmax(int32_t device, int64_t x, int64_t rows, int64_t cols,
                                     int64_t q, int64_t scales);

#ifdef __cplusplus
}
#endif
#endif
