// S^T of a CSR row range (hybrid_weight.h, qft_hybrid_sparse_transpose): the outlier part of the input
// gradient dX = dY W runs as qft_hybrid_sparse_add over S^T. Plain reference plus the device dispatch; the
// CUDA twin is native/cuda/sparse_transpose.cu.
#include <algorithm>
#include <vector>

#include "../common/internal.h"
#include "qft4j/hybrid_weight.h"

namespace qft {

// Stable counting sort of the range's entries by column. row_ptr (rows+1) may start above 0: col_idx and
// values are indexed by the absolute entry j. Outputs: t_ptr (cols+1), t_idx (nnz) row within the range,
// t_values (nnz). The input must be valid (row_ptr non-decreasing, columns in [0, cols)).
void hybrid_sparse_transpose_ref(int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx,
                                 const float* values, int32_t* t_ptr, int32_t* t_idx, float* t_values) {
    std::fill(t_ptr, t_ptr + cols + 1, 0);
    for (int64_t j = row_ptr[0]; j < row_ptr[rows]; ++j) ++t_ptr[col_idx[j] + 1];
    for (int64_t c = 0; c < cols; ++c) t_ptr[c + 1] += t_ptr[c];
    std::vector<int32_t> next(t_ptr, t_ptr + cols);  // (cols) next free slot of each output row
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
            const int32_t at = next[col_idx[j]]++;
            t_idx[at] = static_cast<int32_t>(r);
            t_values[at] = values[j];
        }
}

}  // namespace qft

namespace {

// The checks the reference relies on, naming the first offence: row_ptr from >= 0 and non-decreasing, no
// more entries than a given bound (nnz_bound > 0), every column in [0, cols).
int check_csr(const char* fn, int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, int64_t nnz_bound) {
    if (row_ptr[0] < 0)
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): row_ptr[0] = %d is negative", fn, (long long)rows,
                             (long long)cols, row_ptr[0]);
    for (int64_t r = 0; r < rows; ++r)
        if (row_ptr[r + 1] < row_ptr[r])
            return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): row_ptr decreases at row %lld (%d -> %d)", fn,
                                 (long long)rows, (long long)cols, (long long)r, row_ptr[r], row_ptr[r + 1]);
    if (nnz_bound > 0 && row_ptr[rows] - row_ptr[0] > nnz_bound)
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): the range holds %lld entries, more than nnz_bound %lld", fn,
                             (long long)rows, (long long)cols, (long long)row_ptr[rows] - row_ptr[0], (long long)nnz_bound);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j)
            if (col_idx[j] < 0 || col_idx[j] >= cols)
                return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): col_idx[%lld] = %d (row %lld of the range) is outside [0, %lld)",
                                     fn, (long long)rows, (long long)cols, (long long)j, col_idx[j], (long long)r,
                                     (long long)cols);
    return QFT_OK;
}

}  // namespace

extern "C" int qft_hybrid_sparse_transpose(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                                           int64_t values, int64_t t_ptr, int64_t t_idx, int64_t t_values, int64_t nnz_bound,
                                           int64_t bad) {
    const char* fn = "qft_hybrid_sparse_transpose";
    if (rows < 0 || cols < 0 || nnz_bound < 0 || !row_ptr || !col_idx || !values || !t_ptr || !t_idx || !t_values)
        return qft_set_error(QFT_EINVAL, "%s: bad arguments (rows %lld, cols %lld, nnz_bound %lld, null address?)", fn, (long long)rows,
                             (long long)cols, (long long)nnz_bound);
    if (rows > INT32_MAX || cols > INT32_MAX)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: CSR (%lld, %lld) exceeds the int32 index range", fn, (long long)rows,
                             (long long)cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_hybrid_sparse_transpose", device, rows, cols, row_ptr, col_idx, values, t_ptr, t_idx,
                              t_values, nnz_bound, bad);
    return qft::guarded(fn, [&] {
        const int32_t* rp = qft::ptr<int32_t>(row_ptr);
        const int32_t* ci = qft::ptr<int32_t>(col_idx);
        if (int rc = check_csr(fn, rows, cols, rp, ci, nnz_bound)) {
            if (!bad) return rc;
            *qft::ptr<int32_t>(bad) += 1;  // counted, as on CUDA, where reporting it would take a host sync
            return QFT_OK;
        }
        qft::hybrid_sparse_transpose_ref(rows, cols, rp, ci, qft::ptr<float>(values), qft::ptr<int32_t>(t_ptr),
                                         qft::ptr<int32_t>(t_idx), qft::ptr<float>(t_values));
        return QFT_OK;
    });
}
