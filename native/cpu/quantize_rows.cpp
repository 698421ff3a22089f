// Per-row absmax INT8 quantization: plain reference (quantize_rows_ref) and the device dispatch.
// Reference: LLM.int8() vector-wise quantization (arXiv 2208.07339), bitsandbytes
// `int8_vectorwise_quant`. The CUDA twin is native/cuda/quantize_rows.cu (quantize_rows_cuda).
#include <atomic>
#include <cmath>

#include "../common/internal.h"
#include "parallel.h"
#include "qft4j/quantize_rows.h"

namespace qft {

// x: (rows, cols) fp32; q: (rows, cols) int8; scales: (rows) fp32. Returns the number of rows
// that held a non-finite value (their scale is NaN and their codes are 0).
int64_t quantize_rows_ref(const float* x, int64_t rows, int64_t cols, int8_t* q, float* scales) {
    int64_t bad_rows = 0;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        int8_t* qr = q + r * cols;
        float absmax = 0.0f;
        bool finite = true;
        for (int64_t c = 0; c < cols; ++c) {
            finite &= std::isfinite(xr[c]);
            absmax = std::fmax(absmax, std::fabs(xr[c]));
        }
        if (!finite) {
            scales[r] = NAN;
            for (int64_t c = 0; c < cols; ++c) qr[c] = 0;
            ++bad_rows;
            continue;
        }
        float scale = absmax > 0.0f ? absmax / 127.0f : 1.0f;
        scales[r] = scale;
        for (int64_t c = 0; c < cols; ++c) {
            float v = std::nearbyint(xr[c] / scale);  // round half to even, as CUDA's __float2int_rn
            qr[c] = static_cast<int8_t>(std::fmin(127.0f, std::fmax(-127.0f, v)));
        }
    }
    return bad_rows;
}

}  // namespace qft

extern "C" int qft_quantize_rows_absmax(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t q, int64_t scales) {
    if (x == 0 || q == 0 || scales == 0 || rows < 0 || cols < 0)
        return qft_set_error(QFT_EINVAL, "qft_quantize_rows_absmax: bad arguments (rows %lld, cols %lld, null pointer?)",
                             (long long)rows, (long long)cols);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_quantize_rows_absmax", device, x, rows, cols, q, scales);
    return qft::guarded("qft_quantize_rows_absmax", [&] {
        std::atomic<int64_t> bad{0};
        qft::parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
            bad += qft::quantize_rows_ref(qft::ptr<float>(x) + r0 * cols, r1 - r0, cols, qft::ptr<int8_t>(q) + r0 * cols,
                                          qft::ptr<float>(scales) + r0);
        });
        if (bad.load() > 0)
            return qft_set_error(QFT_EINVAL, "qft_quantize_rows_absmax: %lld of %lld rows of x (%lld, %lld) hold NaN/Inf",
                                 (long long)bad.load(), (long long)rows, (long long)rows, (long long)cols);
        return QFT_OK;
    });
}
