// Hybrid dense/sparse INT8 weights: outlier selection, quantization, dequantization, lazy
// re-selection and the sparse half of the hybrid matmul. Plain references plus the device dispatch;
// the CUDA twins are native/cuda/hybrid_quantize.cu (selection + quantization) and hybrid_weight.cu
// (dequantize, sparse add).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/internal.h"
#include "../common/qft_math.h"
#include "parallel.h"
#include "qft4j/hybrid_weight.h"

namespace qft {

int64_t hybrid_nnz(int64_t rows, int64_t cols, double fraction, bool per_row) {
    if (per_row) return rows * std::llround(fraction * static_cast<double>(cols));
    return std::llround(fraction * static_cast<double>(rows) * static_cast<double>(cols));
}

namespace {

// Marks the k largest |x[i]| (ties: lower index first) in out[0..n). One nth_element over a copy of
// the magnitudes finds the threshold; a linear pass takes everything above it and the first ties.
void mark_top_k(const float* x, int64_t n, int64_t k, uint8_t* out) {
    std::fill(out, out + n, 0);
    if (k <= 0) return;
    if (k >= n) {
        std::fill(out, out + n, 1);
        return;
    }
    std::vector<float> mag(n);
    for (int64_t i = 0; i < n; ++i) mag[i] = std::fabs(x[i]);
    std::nth_element(mag.begin(), mag.begin() + (k - 1), mag.end(), std::greater<float>());
    const float t = mag[k - 1];
    int64_t taken = 0;
    for (int64_t i = 0; i < n; ++i)
        if (std::fabs(x[i]) > t) out[i] = 1, ++taken;
    for (int64_t i = 0; i < n && taken < k; ++i)
        if (std::fabs(x[i]) == t) out[i] = 1, ++taken;
}

}  // namespace

// w: (rows, cols) fp32, finite. Writes the hybrid layout of hybrid_weight.h; nnz must equal hybrid_nnz.
void hybrid_quantize_ref(const float* w, int64_t rows, int64_t cols, double fraction, bool per_row, int8_t* codes,
                         float* scales, int32_t* row_ptr, int32_t* col_idx, float* values) {
    std::vector<uint8_t> is_outlier(rows * cols);
    if (per_row) {
        const int64_t k = std::llround(fraction * static_cast<double>(cols));
        parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) mark_top_k(w + r * cols, cols, k, is_outlier.data() + r * cols);
        });
    } else {
        mark_top_k(w, rows * cols, hybrid_nnz(rows, cols, fraction, false), is_outlier.data());
    }
    int64_t nz = 0;
    row_ptr[0] = 0;
    for (int64_t r = 0; r < rows; ++r) {
        const float* wr = w + r * cols;
        const uint8_t* o = is_outlier.data() + r * cols;
        float absmax = 0.0f;
        for (int64_t c = 0; c < cols; ++c) {
            if (o[c]) {
                col_idx[nz] = static_cast<int32_t>(c);
                values[nz++] = wr[c];
            } else {
                absmax = std::max(absmax, std::fabs(wr[c]));
            }
        }
        row_ptr[r + 1] = static_cast<int32_t>(nz);
        scales[r] = absmax_scale(absmax);
        const float inv = absmax_inv_scale(absmax);
        for (int64_t c = 0; c < cols; ++c) codes[r * cols + c] = o[c] ? 0 : static_cast<int8_t>(quantize_nearest(wr[c], inv));
    }
}

void hybrid_dequantize_ref(int64_t rows, int64_t cols, const int8_t* codes, const float* scales, const int32_t* row_ptr,
                           const int32_t* col_idx, const float* values, float* out) {
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = fmul(static_cast<float>(codes[r * cols + c]), scales[r]);
        for (int32_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) out[r * cols + col_idx[j]] = values[j];
    }
}

// y: (tokens, rows) += x: (tokens, cols) times the transposed sparse part.
void hybrid_sparse_add_ref(int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, const float* values,
                           const float* x, int64_t tokens, float* y) {
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
            float acc = 0.0f;
            for (int32_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) acc += values[j] * x[t * cols + col_idx[j]];
            y[t * rows + r] += acc;
        }
}

}  // namespace qft

namespace {

int check_fraction(const char* fn, int64_t rows, int64_t cols, double fraction, int32_t per_row, int64_t nnz) {
    if (rows < 0 || cols < 0 || !(fraction >= 0.0 && fraction <= 1.0))
        return qft_set_error(QFT_EINVAL, "%s: bad arguments (rows %lld, cols %lld, fraction %g)", fn, (long long)rows,
                             (long long)cols, fraction);
    if (rows * cols > INT32_MAX || cols > INT32_MAX)
        return qft_set_error(QFT_EINVAL, "%s: (%lld, %lld) exceeds the int32 CSR index range", fn, (long long)rows,
                             (long long)cols);
    const int64_t want = qft::hybrid_nnz(rows, cols, fraction, per_row != 0);
    if (nnz != want)
        return qft_set_error(QFT_EINVAL, "%s: nnz %lld does not match %lld outliers of (%lld, %lld) at fraction %g%s", fn,
                             (long long)nnz, (long long)want, (long long)rows, (long long)cols, fraction,
                             per_row ? " per row" : "");
    return QFT_OK;
}

int reject_non_finite(const char* fn, const float* w, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows * cols; ++i)
        if (!std::isfinite(w[i]))
            return qft_set_error(QFT_EINVAL, "%s: w (%lld, %lld) holds NaN/Inf at row %lld, col %lld", fn, (long long)rows,
                                 (long long)cols, (long long)(i / cols), (long long)(i % cols));
    return QFT_OK;
}

}  // namespace

extern "C" int qft_hybrid_nnz(int64_t rows, int64_t cols, double fraction, int32_t per_row, int64_t* out_nnz) {
    if (out_nnz == nullptr || rows < 0 || cols < 0 || !(fraction >= 0.0 && fraction <= 1.0))
        return qft_set_error(QFT_EINVAL, "qft_hybrid_nnz: bad arguments (rows %lld, cols %lld, fraction %g)",
                             (long long)rows, (long long)cols, fraction);
    *out_nnz = qft::hybrid_nnz(rows, cols, fraction, per_row != 0);
    return QFT_OK;
}

extern "C" int qft_hybrid_quantize(int32_t device, int64_t w, int64_t rows, int64_t cols, double fraction, int32_t per_row,
                                   int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx, int64_t values,
                                   int64_t nnz) {
    const char* fn = "qft_hybrid_quantize";
    if (int rc = check_fraction(fn, rows, cols, fraction, per_row, nnz)) return rc;
    if (!w || !codes || !scales || !row_ptr || (nnz > 0 && (!col_idx || !values)))
        return qft_set_error(QFT_EINVAL, "%s: null address for (%lld, %lld)", fn, (long long)rows, (long long)cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_hybrid_quantize", device, w, rows, cols, fraction, per_row, codes, scales, row_ptr,
                              col_idx, values, nnz);
    return qft::guarded(fn, [&] {
        const float* hw = qft::ptr<float>(w);
        if (int rc = reject_non_finite(fn, hw, rows, cols)) return rc;
        qft::hybrid_quantize_ref(hw, rows, cols, fraction, per_row != 0, qft::ptr<int8_t>(codes), qft::ptr<float>(scales),
                                 qft::ptr<int32_t>(row_ptr), qft::ptr<int32_t>(col_idx), qft::ptr<float>(values));
        return QFT_OK;
    });
}

extern "C" int qft_hybrid_dequantize(int32_t device, int64_t rows, int64_t cols, int64_t codes, int64_t scales,
                                     int64_t row_ptr, int64_t col_idx, int64_t values, int64_t out) {
    if (rows < 0 || cols < 0 || !codes || !scales || !row_ptr || !out)
        return qft_set_error(QFT_EINVAL, "qft_hybrid_dequantize: bad arguments (rows %lld, cols %lld, null pointer?)",
                             (long long)rows, (long long)cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_hybrid_dequantize", device, rows, cols, codes, scales, row_ptr, col_idx, values, out);
    return qft::guarded("qft_hybrid_dequantize", [&] {
        qft::parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
            qft::hybrid_dequantize_ref(r1 - r0, cols, qft::ptr<int8_t>(codes) + r0 * cols, qft::ptr<float>(scales) + r0,
                                       qft::ptr<int32_t>(row_ptr) + r0, qft::ptr<int32_t>(col_idx), qft::ptr<float>(values),
                                       qft::ptr<float>(out) + r0 * cols);
        });
        return QFT_OK;
    });
}

extern "C" int qft_hybrid_reselect(int32_t device, int64_t rows, int64_t cols, double fraction, int32_t per_row,
                                   int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx, int64_t values,
                                   int64_t nnz) {
    const char* fn = "qft_hybrid_reselect";
    if (int rc = check_fraction(fn, rows, cols, fraction, per_row, nnz)) return rc;
    int64_t tmp = 0;
    if (int rc = qft_alloc(device, std::max<int64_t>(rows * cols * 4, 4), &tmp)) return rc;
    int rc = qft_hybrid_dequantize(device, rows, cols, codes, scales, row_ptr, col_idx, values, tmp);
    if (rc == QFT_OK) rc = qft_hybrid_quantize(device, tmp, rows, cols, fraction, per_row, codes, scales, row_ptr, col_idx,
                                               values, nnz);
    qft_free(device, tmp);
    return rc;
}

extern "C" int qft_hybrid_sparse_add(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                                     int64_t values, int64_t x, int64_t tokens, int64_t y) {
    if (rows < 0 || cols < 0 || tokens < 0 || !row_ptr || !x || !y)
        return qft_set_error(QFT_EINVAL, "qft_hybrid_sparse_add: bad arguments (rows %lld, cols %lld, tokens %lld)",
                             (long long)rows, (long long)cols, (long long)tokens);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_hybrid_sparse_add", device, rows, cols, row_ptr, col_idx, values, x, tokens, y);
    return qft::guarded("qft_hybrid_sparse_add", [&] {
        qft::parallel_for(tokens, 1, [&](int64_t t0, int64_t t1) {
            qft::hybrid_sparse_add_ref(rows, cols, qft::ptr<int32_t>(row_ptr), qft::ptr<int32_t>(col_idx),
                                       qft::ptr<float>(values), qft::ptr<float>(x) + t0 * cols, t1 - t0,
                                       qft::ptr<float>(y) + t0 * rows);
        });
        return QFT_OK;
    });
}
