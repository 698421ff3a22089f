/* Hybrid dense/sparse INT8 weights (QFT, Li et al. 2023, arXiv 2310.07147, sec. 3.1; the dense/sparse
 * split follows SqueezeLLM, Kim et al. 2023, arXiv 2306.07629).
 *
 * A (rows, cols) fp32 weight W is stored as  W ~= D + S:
 *   D, the dense part: codes (rows, cols) int8 and per-row scales (rows) fp32, symmetric absmax
 *      computed with the outliers removed; codes are 0 at outlier positions.
 *   S, the sparse part: the outliers in CSR, row_ptr (rows+1) int32, col_idx (nnz) int32 (ascending
 *      inside a row), values (nnz) fp32.
 * Values are fp32, not fp16: the optimizer updates outliers in place by lr*sign(c) with lr ~1e-5, and an
 * fp16 outlier of magnitude 0.5 has a ulp of 2.4e-4, so fp16 would freeze them exactly as INT8
 * round-to-nearest freezes dense weights; at 1% outliers fp32 costs 0.04 bytes/parameter (fp16 0.02).
 *
 * Outliers are the nnz largest |W| (ties: lower flat index first):
 *   per_row == 0: nnz = round(fraction * rows * cols) over the whole tensor (one threshold);
 *   per_row != 0: round(fraction * cols) per row.
 * qft_hybrid_nnz gives nnz for a shape and setting, so that callers allocate the CSR arrays first. */
#ifndef QFT4J_HYBRID_WEIGHT_H
#define QFT4J_HYBRID_WEIGHT_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of outliers for a (rows, cols) tensor at `fraction` in [0, 1]. */
QFT_API int qft_hybrid_nnz(int64_t rows, int64_t cols, double fraction, int32_t per_row, int64_t* out_nnz);

/* w: (rows, cols) fp32 -> codes, scales, row_ptr, col_idx, values (shapes above; nnz from qft_hybrid_nnz).
 * Dense codes are rounded to nearest. On a CUDA device everything runs on the device (radix select of the
 * threshold; only per-row counts and 256-bin histograms visit the host), bit-identical to the CPU. */
QFT_API int qft_hybrid_quantize(int32_t device, int64_t w, int64_t rows, int64_t cols, double fraction, int32_t per_row,
                                int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx, int64_t values,
                                int64_t nnz);

/* out: (rows, cols) fp32 = codes*scales[row] + outliers. */
QFT_API int qft_hybrid_dequantize(int32_t device, int64_t rows, int64_t cols, int64_t codes, int64_t scales,
                                  int64_t row_ptr, int64_t col_idx, int64_t values, int64_t out);

/* Lazy outlier re-selection in place: dequantize, select the outliers of the current weights again
 * (same fraction/per_row, so nnz is unchanged and no array is reallocated), requantize the dense part
 * (round to nearest). Meant to run every N steps, not every step: it costs a full selection. */
QFT_API int qft_hybrid_reselect(int32_t device, int64_t rows, int64_t cols, double fraction, int32_t per_row,
                                int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx, int64_t values,
                                int64_t nnz);

/* The sparse half of the hybrid matmul: y[t, r] += sum_{(r,c) in S} S[r,c] * x[t, c].
 * x: (tokens, cols) fp32, y: (tokens, rows) fp32. The dense half is the INT8 GEMM on codes. */
QFT_API int qft_hybrid_sparse_add(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                                  int64_t values, int64_t x, int64_t tokens, int64_t y);

/* The outliers of a CSR row range as INT8 codes on a dense grid, for running the sparse half of the hybrid
 * matmul on the INT8 GEMM (the dense half's activation codes times these; an INT8 image used only for the
 * product: S itself stays fp32 for the optimizer). At 1% outliers the sparse add is bound by gathering one
 * activation per multiply-add and costs ~8x the dense INT8 GEMM on an H100 (bench/results/sparse-add-peqa-h100.md);
 * a second GEMM over a 99%-zero grid costs 1x.
 * Row range as in qft_hybrid_sparse_transpose (row_ptr offset to the range's first row, col_idx and values the
 * whole weight's). Out: scales (rows) fp32, scales[r] = absmax_r / 127 over row r's outliers (0 for a row
 * without any, so that folded into dY it leaves the per-token absmax to the rows that hold outliers; NaN, with zero codes, for a row holding a NaN/Inf outlier, so that its products are NaN as the
 * fp32 sparse add's would be); codes int8, round-to-nearest-even of v * 127 / absmax_r at the outliers'
 * positions and 0 elsewhere: (rows, cols) row-major, or transposed (cols, rows) when transpose != 0 (for
 * dX += dY S: fold the scales into dY, as for the dense part). Bit-identical on every backend. */
QFT_API int qft_hybrid_outlier_codes(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx, int64_t values,
                                     int32_t transpose, int64_t codes, int64_t scales);

/* S^T of a CSR row range, for the input gradient dX += dY S (qft_hybrid_sparse_add with the result as a
 * (cols, rows) CSR, x = dY (tokens, rows), y = dX (tokens, cols)).
 * In: rows [0, rows) of a CSR whose row_ptr may start above 0 (a row range of a larger weight: row_ptr is
 * offset to the range's first row, col_idx and values are the whole weight's arrays, and the range's entries
 * are j in [row_ptr[0], row_ptr[rows])), cols columns. nnz = row_ptr[rows] - row_ptr[0].
 * Out: t_ptr (cols+1) int32 with t_ptr[0] = 0, t_idx and t_values (at least max(nnz, nnz_bound) elements: the
 * CUDA path sorts nnz_bound of them) int32 / fp32: the entry's row relative to the range and its value, the CSR of
 * S^T with each output row's entries in CSR order of the input (increasing input row; entries of one input row
 * that share a column, which hybrid weights never hold, keep their order). The result is a stable sort of the
 * entries by column, which is unique, so every backend returns it bit for bit.
 * nnz_bound: 0, or an upper bound of nnz known on the host (e.g. the whole weight's nnz), which spares CUDA
 * reading nnz back. bad: 0, or the address of an int32 on `device`.
 * Errors (outputs unspecified): row_ptr decreasing or starting below 0, more entries than a nonzero nnz_bound,
 * a col_idx entry outside [0, cols). With bad = 0 the call returns QFT_EINVAL naming the first one (CUDA reads
 * the verdict back: a host sync); with bad given it adds 1 to *bad instead and returns QFT_OK, and with both
 * nnz_bound and bad given the CUDA path makes no host sync (a training step's backward). rows, cols and nnz
 * must be < 2^31. */
QFT_API int qft_hybrid_sparse_transpose(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                                        int64_t values, int64_t t_ptr, int64_t t_idx, int64_t t_values, int64_t nnz_bound,
                                        int64_t bad);

#ifdef __cplusplus
}
#endif
#endif
