/* Operand preparation for the INT8 matmul (qft4j/int8_matmul.h): the quantize-on-the-fly helpers that
 * let all three matmuls of a linear layer (Y = X W^T, dX = dY W, dW = dY^T X) run on the TN kernel.
 * Symmetric absmax quantization as in LLM.int8() (arXiv 2208.07339) and QFT (arXiv 2310.07147):
 *   scale = absmax / 127 (1 when the vector is all zero), code = clamp(round_half_even(x / scale), -127, 127)
 * with the division and rounding of qft_quantize_rows_absmax, so CPU and CUDA agree bit for bit.
 *
 * x_dtype: QFT_IN_F32 (fp32) or QFT_IN_BF16 (bf16 stored as uint16). A non-finite input value makes its
 * vector's scale NaN and its codes 0 (so a matmul on the operand gives NaN there, as fp32 would). Then, with
 * bad = 0, the call returns QFT_EINVAL after writing everything (on CUDA it waits for the kernels to know);
 * with bad = the address of an int32 on `device`, the number of such vectors is added to *bad and the call
 * returns QFT_OK without a host sync: a training step's backward, which lets NaN flow to the gradients and
 * the optimizer's non-finite rule, uses that form. */
#ifndef QFT4J_QUANTIZE_OPERANDS_H
#define QFT4J_QUANTIZE_OPERANDS_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QFT_IN_F32 = 0, QFT_IN_BF16 = 1 };

/* Per-row quantization with an optional per-column multiplier folded in first:
 *   x'[r,c] = x[r,c] * col_mul[c] (fp32 product; col_mul = 0 means no multiplier)
 *   scales[r] = max_c |x'[r,c]| / 127,   q[r,c] = code of x'[r,c]
 * x: (rows, cols) fp32|bf16; col_mul: (cols) fp32 or 0; q: (rows, cols) int8; scales: (rows) fp32.
 * With col_mul = W's per-row scales and x = dY this prepares the A operand of dX = dY W. With
 * col_mul = 0 and fp32 input it equals qft_quantize_rows_absmax. */
QFT_API int qft_quantize_rows_absmax_ex(int32_t device, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols,
                                        int64_t col_mul, int64_t q, int64_t scales, int64_t bad);

/* Per-column quantization, written transposed:
 *   scales[c] = max_r |x[r,c]| / 127,   qt[c,r] = code of x[r,c] with scales[c]
 * x: (rows, cols) fp32|bf16; qt: (cols, rows) int8 row-major; scales: (cols) fp32.
 * For dW = dY^T X: qt of dY is the A operand (out, T), qt of X the B operand (in, T). */
QFT_API int qft_quantize_cols_absmax(int32_t device, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols,
                                     int64_t qt, int64_t scales, int64_t bad);

/* xt[c,r] = x[r,c]; x: (rows, cols) int8, xt: (cols, rows) int8. Gives W^T (in, out), the B operand of dX = dY W. */
QFT_API int qft_transpose_i8(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t xt);

#ifdef __cplusplus
}
#endif
#endif
