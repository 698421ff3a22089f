// Operand preparation for the INT8 matmul: per-row quantization with a folded column multiplier,
// per-column quantization written transposed, and the int8 transpose (qft4j/quantize_operands.h).
// Plain references, threaded over independent rows / column blocks. CUDA twin: native/cuda/quantize_operands.cu.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "../common/internal.h"
#include "parallel.h"
#include "qft4j/quantize_operands.h"

namespace qft {
namespace {

inline float load(int32_t dtype, const void* x, int64_t i) {
    if (dtype == QFT_IN_F32) return static_cast<const float*>(x)[i];
    uint32_t u = uint32_t(static_cast<const uint16_t*>(x)[i]) << 16;
    float v;
    std::memcpy(&v, &u, 4);
    return v;
}

inline int8_t code(float v, float scale) {
    float q = std::nearbyint(v / scale);  // round half to even, as CUDA's __float2int_rn
    return static_cast<int8_t>(std::fmin(127.0f, std::fmax(-127.0f, q)));
}

}  // namespace

// Rows [r0, r1) of qft_quantize_rows_absmax_ex; returns the number of rows holding NaN/Inf.
int64_t quantize_rows_ex_ref(int32_t dtype, const void* x, int64_t r0, int64_t r1, int64_t cols, const float* col_mul, int8_t* q,
                             float* scales) {
    int64_t bad = 0;
    for (int64_t r = r0; r < r1; ++r) {
        float absmax = 0.0f;
        bool finite = true;
        for (int64_t c = 0; c < cols; ++c) {
            float v = load(dtype, x, r * cols + c) * (col_mul ? col_mul[c] : 1.0f);
            finite &= std::isfinite(v);
            absmax = std::fmax(absmax, std::fabs(v));
        }
        float scale = !finite ? NAN : absmax > 0.0f ? absmax / 127.0f : 1.0f;
        scales[r] = scale;
        bad += !finite;
        for (int64_t c = 0; c < cols; ++c)
            q[r * cols + c] = finite ? code(load(dtype, x, r * cols + c) * (col_mul ? col_mul[c] : 1.0f), scale) : 0;
    }
    return bad;
}

// Columns [c0, c1) of qft_quantize_cols_absmax; returns the number of columns holding NaN/Inf.
int64_t quantize_cols_ref(int32_t dtype, const void* x, int64_t rows, int64_t cols, int64_t c0, int64_t c1, int8_t* qt, float* scales) {
    int64_t bad = 0;
    for (int64_t c = c0; c < c1; ++c) {
        float absmax = 0.0f;
        bool finite = true;
        for (int64_t r = 0; r < rows; ++r) {
            float v = load(dtype, x, r * cols + c);
            finite &= std::isfinite(v);
            absmax = std::fmax(absmax, std::fabs(v));
        }
        float scale = !finite ? NAN : absmax > 0.0f ? absmax / 127.0f : 1.0f;
        scales[c] = scale;
        bad += !finite;
        for (int64_t r = 0; r < rows; ++r) qt[c * rows + r] = finite ? code(load(dtype, x, r * cols + c), scale) : 0;
    }
    return bad;
}

}  // namespace qft

namespace {

// With a counter address (bad_out != 0) the count is added there; otherwise a bad vector is an error.
int bad_vectors(const char* fn, int64_t bad, int64_t bad_out, const char* what, int64_t count, int64_t rows, int64_t cols) {
    if (bad_out) *qft::ptr<int32_t>(bad_out) += static_cast<int32_t>(bad);
    if (bad == 0 || bad_out) return QFT_OK;
    return qft_set_error(QFT_EINVAL, "%s: %lld of %lld %s of x (%lld, %lld) hold NaN/Inf", fn, (long long)bad, (long long)count, what,
                         (long long)rows, (long long)cols);
}

int check(const char* fn, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols, int64_t q, int64_t scales) {
    if (x == 0 || q == 0 || scales == 0 || rows < 0 || cols < 0 || (x_dtype != QFT_IN_F32 && x_dtype != QFT_IN_BF16))
        return qft_set_error(QFT_EINVAL, "%s: bad arguments (x (%lld, %lld), x_dtype %d, null pointer?)", fn, (long long)rows,
                             (long long)cols, x_dtype);
    return QFT_OK;
}

}  // namespace

extern "C" int qft_quantize_rows_absmax_ex(int32_t device, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols, int64_t col_mul,
                                           int64_t q, int64_t scales, int64_t bad_out) {
    const char* fn = "qft_quantize_rows_absmax_ex";
    if (int st = check(fn, x_dtype, x, rows, cols, q, scales)) return st;
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_quantize_rows_absmax_ex", device, x_dtype, x, rows, cols, col_mul, q, scales, bad_out);
    return qft::guarded(fn, [&] {
        std::atomic<int64_t> bad{0};
        qft::parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
            bad += qft::quantize_rows_ex_ref(x_dtype, qft::ptr<const void>(x), r0, r1, cols, qft::ptr<const float>(col_mul),
                                             qft::ptr<int8_t>(q), qft::ptr<float>(scales));
        });
        return bad_vectors(fn, bad.load(), bad_out, "rows", rows, rows, cols);
    });
}

extern "C" int qft_quantize_cols_absmax(int32_t device, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols, int64_t qt, int64_t scales,
                                        int64_t bad_out) {
    const char* fn = "qft_quantize_cols_absmax";
    if (int st = check(fn, x_dtype, x, rows, cols, qt, scales)) return st;
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_quantize_cols_absmax", device, x_dtype, x, rows, cols, qt, scales, bad_out);
    return qft::guarded(fn, [&] {
        std::atomic<int64_t> bad{0};
        qft::parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
            bad += qft::quantize_cols_ref(x_dtype, qft::ptr<const void>(x), rows, cols, c0, c1, qft::ptr<int8_t>(qt), qft::ptr<float>(scales));
        });
        return bad_vectors(fn, bad.load(), bad_out, "columns", cols, rows, cols);
    });
}

extern "C" int qft_transpose_i8(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t xt) {
    const char* fn = "qft_transpose_i8";
    if (x == 0 || xt == 0 || rows < 0 || cols < 0)
        return qft_set_error(QFT_EINVAL, "%s: bad arguments (x (%lld, %lld), null pointer?)", fn, (long long)rows, (long long)cols);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_transpose_i8", device, x, rows, cols, xt);
    return qft::guarded(fn, [&] {
        const int8_t* src = qft::ptr<const int8_t>(x);
        int8_t* dst = qft::ptr<int8_t>(xt);
        constexpr int64_t kB = 64;  // 64 x 64 blocks: both sides stay in L1
        qft::parallel_for((rows + kB - 1) / kB, 1, [&](int64_t b0, int64_t b1) {
            for (int64_t r0 = b0 * kB; r0 < std::min(rows, b1 * kB); r0 += kB)
                for (int64_t c0 = 0; c0 < cols; c0 += kB)
                    for (int64_t r = r0; r < std::min(rows, r0 + kB); ++r)
                        for (int64_t c = c0; c < std::min(cols, c0 + kB); ++c) dst[c * rows + r] = src[r * cols + c];
        });
        return QFT_OK;
    });
}
