// Training-step helpers (train_step.h): plain references and the device dispatch. CUDA twins:
// native/cuda/train_step.cu (same fp64 row sums in a fixed order; the Lion element of qft_math.h).
#include <algorithm>
#include <limits>

#include "../common/internal.h"
#include "../common/qft_math.h"
#include "parallel.h"
#include "qft4j/train_step.h"

namespace qft {

double int8_blocks_row_sumsq_ref(const int8_t* codes, const float* scales, int64_t r, int64_t cols, int64_t block) {
    const int64_t nb = div_up(cols, block);
    double s = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
        const double v = fmul(static_cast<float>(codes[r * cols + c]), scales[r * nb + c / block]);
        s += v * v;
    }
    return s;
}

double f32_row_sumsq_ref(const float* x, int64_t r, int64_t cols) {
    double s = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
        const double v = x[r * cols + c];
        s += v * v;
    }
    return s;
}

// Block b of row r: scale over the block, then stochastic codes; a non-finite block gets a NaN scale and zero codes.
// row0: the tensor's row of x's row 0 (the RNG key is the tensor's row).
void int8_blocks_quantize_stochastic_ref(const float* x, int64_t r, int64_t b, int64_t cols, int64_t block, uint64_t stream,
                                         int64_t row0, int8_t* codes, float* scales) {
    const int64_t nb = div_up(cols, block), c0 = b * block, c1 = std::min(cols, c0 + block);
    float absmax = 0.0f;
    bool ok = true;
    for (int64_t c = c0; c < c1; ++c) {
        ok = ok && finite(x[r * cols + c]);
        absmax = std::max(absmax, fabsf_(x[r * cols + c]));
    }
    if (!ok) {
        for (int64_t c = c0; c < c1; ++c) codes[r * cols + c] = 0;
        scales[r * nb + b] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    scales[r * nb + b] = absmax_scale(absmax);
    const float inv = absmax_inv_scale(absmax);
    const uint64_t row_key = rng_row(stream, static_cast<uint64_t>(row0 + r));
    for (int64_t c = c0; c < c1; ++c)
        codes[r * cols + c] = static_cast<int8_t>(quantize_stochastic(x[r * cols + c], inv, rng_bits(row_key, static_cast<uint32_t>(c))));
}

}  // namespace qft

extern "C" int qft_int8_blocks_row_sumsq(int32_t device, int64_t codes, int64_t scales, int64_t rows, int64_t cols,
                                         int64_t block, int64_t out) {
    if (!codes || !scales || !out || rows < 0 || cols < 0 || block < 1)
        return qft_set_error(QFT_EINVAL, "qft_int8_blocks_row_sumsq: bad arguments ((%lld, %lld), block %lld, null pointer?)",
                             (long long)rows, (long long)cols, (long long)block);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_int8_blocks_row_sumsq", device, codes, scales, rows, cols, block, out);
    return qft::guarded("qft_int8_blocks_row_sumsq", [&] {
        const int8_t* q = qft::ptr<const int8_t>(codes);
        const float* s = qft::ptr<const float>(scales);
        double* o = qft::ptr<double>(out);
        qft::parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) o[r] = qft::int8_blocks_row_sumsq_ref(q, s, r, cols, block);
        });
        return QFT_OK;
    });
}

extern "C" int qft_f32_row_sumsq(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t out) {
    if (!x || !out || rows < 0 || cols < 0)
        return qft_set_error(QFT_EINVAL, "qft_f32_row_sumsq: bad arguments ((%lld, %lld), null pointer?)", (long long)rows,
                             (long long)cols);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_f32_row_sumsq", device, x, rows, cols, out);
    return qft::guarded("qft_f32_row_sumsq", [&] {
        const float* px = qft::ptr<const float>(x);
        double* o = qft::ptr<double>(out);
        qft::parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) o[r] = qft::f32_row_sumsq_ref(px, r, cols);
        });
        return QFT_OK;
    });
}

extern "C" int qft_int8_blocks_quantize_stochastic(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t block,
                                                   int64_t seed, int64_t step, int64_t tensor, int64_t row0, int64_t codes,
                                                   int64_t scales) {
    if (!x || !codes || !scales || rows < 0 || cols < 0 || block < 1 || row0 < 0)
        return qft_set_error(QFT_EINVAL,
                             "qft_int8_blocks_quantize_stochastic: bad arguments ((%lld, %lld) from row %lld, block %lld, null pointer?)",
                             (long long)rows, (long long)cols, (long long)row0, (long long)block);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_int8_blocks_quantize_stochastic", device, x, rows, cols, block, seed, step, tensor, row0, codes,
                              scales);
    return qft::guarded("qft_int8_blocks_quantize_stochastic", [&] {
        const uint64_t stream = qft::rng_stream(static_cast<uint64_t>(seed), static_cast<uint64_t>(step), static_cast<uint64_t>(tensor));
        const int64_t nb = qft::div_up(cols, block);
        qft::parallel_for(rows * nb, 1, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                qft::int8_blocks_quantize_stochastic_ref(qft::ptr<const float>(x), i / nb, i % nb, cols, block, stream, row0,
                                                         qft::ptr<int8_t>(codes), qft::ptr<float>(scales));
        });
        return QFT_OK;
    });
}

extern "C" int qft_f32_scale(int32_t device, int64_t x, int64_t n, int64_t alpha) {
    if (!x || !alpha || n < 0) return qft_set_error(QFT_EINVAL, "qft_f32_scale: bad arguments (n %lld, null pointer?)", (long long)n);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_f32_scale", device, x, n, alpha);
    return qft::guarded("qft_f32_scale", [&] {
        float* px = qft::ptr<float>(x);
        const float a = *qft::ptr<const float>(alpha);
        qft::parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) px[i] = qft::fmul(px[i], a);
        });
        return QFT_OK;
    });
}

extern "C" int qft_lion_fp32_scaled_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t n, float lr, float beta1,
                                         float beta2, float weight_decay, int64_t grad_scale) {
    if (!w || !g || !m || !grad_scale || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_lion_fp32_scaled_step: bad arguments (n %lld, null pointer?)", (long long)n);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_lion_fp32_scaled_step", device, w, g, m, n, lr, beta1, beta2, weight_decay, grad_scale);
    return qft::guarded("qft_lion_fp32_scaled_step", [&] {
        const float scale = *qft::ptr<const float>(grad_scale);
        if (!qft::finite(scale)) return QFT_OK;
        const qft::LionConsts k = qft::lion_consts(lr, beta1, beta2, weight_decay);
        float *pw = qft::ptr<float>(w), *pm = qft::ptr<float>(m);
        const float* pg = qft::ptr<const float>(g);
        qft::parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) qft::lion_element(k, qft::fmul(pg[i], scale), &pw[i], &pm[i]);
        });
        return QFT_OK;
    });
}

extern "C" int qft_clip_factors(int32_t device, int64_t row_sums, const int64_t* rows, int64_t n, double clip_norm, int32_t per_tensor,
                                int64_t state, int64_t factors) {
    bool ok = row_sums && rows && state && factors && n >= 0 && n <= QFT_CLIP_MAX_TENSORS && (!per_tensor || clip_norm > 0.0);
    for (int64_t i = 0; ok && i < n; ++i) ok = rows[i] >= 0;
    if (!ok)
        return qft_set_error(QFT_EINVAL,
                             "qft_clip_factors: bad arguments (%lld tensors: 0..%d, row counts >= 0, per-tensor clip norm %g > 0, null pointer?)",
                             (long long)n, QFT_CLIP_MAX_TENSORS, clip_norm);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_clip_factors", device, row_sums, rows, n, clip_norm, per_tensor, state, factors);
    return qft::guarded("qft_clip_factors", [&] {
        const double* sums = qft::ptr<const double>(row_sums);
        for (int64_t i = 0, at = 0; i < n; at += rows[i++]) {
            double s = 0.0;
            for (int64_t r = 0; r < rows[i]; ++r) s += sums[at + r];
            qft::ptr<float>(factors)[i] = qft::fused_clip_factor(s, clip_norm, per_tensor, qft::ptr<int64_t>(state));
        }
        return QFT_OK;
    });
}
