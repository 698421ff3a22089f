// qft_hybrid_outlier_codes (hybrid_weight.h): the outliers of a CSR row range as INT8 codes on a dense grid,
// with one absmax scale per row. Plain reference and the device dispatch; CUDA twin: native/cuda/outlier_codes.cu.
// Both use qft_math.h's absmax_scale / absmax_inv_scale / quantize_nearest, so they agree bit for bit.
#include <cstring>
#include <limits>

#include "../common/internal.h"
#include "../common/qft_math.h"
#include "parallel.h"
#include "qft4j/hybrid_weight.h"

namespace qft {

// Row r of the (rows, cols) range: its scale, then its codes into a grid that is already zero; the code of
// (r, c) lives at codes[r * cols + c], or at codes[c * rows + r] when transposed.
void hybrid_outlier_codes_ref(int64_t r, int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, const float* values,
                              bool transpose, int8_t* codes, float* scales) {
    float absmax = 0.0f;
    bool ok = true;
    for (int32_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
        ok = ok && finite(values[j]);
        absmax = absmax > fabsf_(values[j]) ? absmax : fabsf_(values[j]);
    }
    if (!ok) {
        scales[r] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    scales[r] = absmax > 0.0f ? absmax_scale(absmax) : 0.0f;  // 0: folded into dY, an empty row must not set its absmax
    const float inv = absmax_inv_scale(absmax);
    for (int32_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
        const int64_t c = col_idx[j];
        codes[transpose ? c * rows + r : r * cols + c] = static_cast<int8_t>(quantize_nearest(values[j], inv));
    }
}

}  // namespace qft

extern "C" int qft_hybrid_outlier_codes(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx, int64_t values,
                                        int32_t transpose, int64_t codes, int64_t scales) {
    if (rows < 0 || cols < 0 || rows > 0x7fffffffLL || cols > 0x7fffffffLL || !row_ptr || !codes || !scales)
        return qft_set_error(QFT_EINVAL, "qft_hybrid_outlier_codes: bad arguments (rows %lld, cols %lld: each in [0, 2^31), null pointer?)",
                             (long long)rows, (long long)cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_hybrid_outlier_codes", device, rows, cols, row_ptr, col_idx, values, transpose, codes, scales);
    return qft::guarded("qft_hybrid_outlier_codes", [&] {
        const int32_t* rp = qft::ptr<const int32_t>(row_ptr);
        const int32_t* ci = qft::ptr<const int32_t>(col_idx);
        for (int64_t r = 0; r < rows; ++r) {
            if (rp[r + 1] < rp[r])
                return qft_set_error(QFT_EINVAL, "qft_hybrid_outlier_codes: row_ptr decreases at row %lld of %lld", (long long)r,
                                     (long long)rows);
            for (int32_t j = rp[r]; j < rp[r + 1]; ++j)
                if (ci[j] < 0 || ci[j] >= cols)
                    return qft_set_error(QFT_EINVAL, "qft_hybrid_outlier_codes: column %d of row %lld is outside [0, %lld)", ci[j],
                                         (long long)r, (long long)cols);
        }
        std::memset(qft::ptr<int8_t>(codes), 0, static_cast<size_t>(rows * cols));
        qft::parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r)
                qft::hybrid_outlier_codes_ref(r, rows, cols, rp, qft::ptr<const int32_t>(col_idx), qft::ptr<const float>(values),
                                              transpose != 0, qft::ptr<int8_t>(codes), qft::ptr<float>(scales));
        });
        return QFT_OK;
    });
}
