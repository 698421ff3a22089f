// The fused quantized Lion step (lion_step_ref: the plain per-row reference, the CPU path) and the
// fp32 Lion / AdamW references. The CUDA kernel is lion_step_cuda in native/cuda/lion_step.cu; both
// evaluate the element rule of qft_math.h, so they agree bit for bit.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "../common/internal.h"
#include "../common/lion_desc.h"
#include "../common/qft_math.h"
#include "parallel.h"
#include "qft4j/lion_step.h"

namespace qft {

int check_lion_tensor(const LionTensor& t, int64_t i) {
    if (t.rows < 0 || t.cols < 0 || t.g_block < 1 || t.m_block < 1 || !t.w_codes || !t.w_scales || !t.row_ptr ||
        !t.g_codes || !t.g_scales || !t.m_codes || !t.m_scales)
        return qft_set_error(QFT_EINVAL,
                             "qft_quant_lion_step: tensor %lld (%lld, %lld) has a null address or a bad block size "
                             "(g_block %lld, m_block %lld)",
                             (long long)i, (long long)t.rows, (long long)t.cols, (long long)t.g_block, (long long)t.m_block);
    return QFT_OK;
}

// True when every gradient scale of the tensor is finite (a NaN/Inf gradient value gives a NaN scale).
bool lion_gradient_finite(const LionTensor& t) {
    const int64_t n = t.rows * div_up(t.cols, t.g_block);
    for (int64_t i = 0; i < n; ++i)
        if (!finite(t.g_scales[i])) return false;
    return true;
}

// Row r of tensor t: reads everything, runs Lion in fp32, writes momentum blocks, the dense row with its
// new scale and the row's outliers. Scratch rows wn/mn hold the new fp32 values of the row.
void lion_step_ref(const LionTensor& t, int64_t r, const LionConsts& k, uint64_t stream, uint32_t offset, bool stochastic,
                   std::vector<float>& wn, std::vector<float>& mn, std::vector<uint8_t>& outlier) {
    const int64_t cols = t.cols, gnb = div_up(cols, t.g_block), mnb = div_up(cols, t.m_block);
    wn.resize(cols);
    mn.resize(cols);
    outlier.assign(cols, 0);
    const float ws = t.w_scales[r];
    for (int64_t c = 0; c < cols; ++c) wn[c] = fmul(static_cast<float>(t.w_codes[r * cols + c]), ws);
    for (int32_t j = t.row_ptr[r]; j < t.row_ptr[r + 1]; ++j) {
        outlier[t.col_idx[j]] = 1;
        wn[t.col_idx[j]] = t.values[j];
    }
    for (int64_t c = 0; c < cols; ++c) {
        float g = fmul(static_cast<float>(t.g_codes[r * cols + c]), t.g_scales[r * gnb + c / t.g_block]);
        mn[c] = fmul(static_cast<float>(t.m_codes[r * cols + c]), t.m_scales[r * mnb + c / t.m_block]);
        lion_element(k, g, &wn[c], &mn[c]);
    }
    float absmax = 0.0f;
    for (int64_t c = 0; c < cols; ++c)
        if (!outlier[c]) absmax = std::max(absmax, fabsf_(wn[c]));
    t.w_scales[r] = absmax_scale(absmax);
    const float inv = absmax_inv_scale(absmax);
    const uint64_t row_key = rng_row(stream, static_cast<uint64_t>(r));
    for (int64_t c = 0; c < cols; ++c) {
        const int q = outlier[c]      ? 0
                      : stochastic ? quantize_stochastic(wn[c], inv, rng_bits(row_key, static_cast<uint32_t>(c)) + offset)
                                   : quantize_nearest(wn[c], inv);
        t.w_codes[r * cols + c] = static_cast<int8_t>(q);
    }
    for (int32_t j = t.row_ptr[r]; j < t.row_ptr[r + 1]; ++j) t.values[j] = wn[t.col_idx[j]];
    for (int64_t b = 0; b < mnb; ++b) {
        const int64_t c0 = b * t.m_block, c1 = std::min(cols, c0 + t.m_block);
        float mmax = 0.0f;
        for (int64_t c = c0; c < c1; ++c) mmax = std::max(mmax, fabsf_(mn[c]));
        t.m_scales[r * mnb + b] = absmax_scale(mmax);
        const float inv_m = absmax_inv_scale(mmax);
        for (int64_t c = c0; c < c1; ++c) t.m_codes[r * cols + c] = static_cast<int8_t>(quantize_sign_kept(mn[c], inv_m));
    }
}

}  // namespace qft

extern "C" int qft_quant_lion_step(int32_t device, const int64_t* desc, int64_t n_tensors, float lr, float beta1,
                                   float beta2, float weight_decay, int64_t step, int64_t seed, int32_t rounding,
                                   int64_t found_nonfinite) {
    const bool known_rounding =
        rounding == QFT_ROUND_STOCHASTIC || rounding == QFT_ROUND_NEAREST || rounding == QFT_ROUND_STOCHASTIC_WEYL;
    if (desc == nullptr || n_tensors < 0 || !found_nonfinite || !known_rounding || !std::isfinite(lr) ||
        !std::isfinite(beta1) || !std::isfinite(beta2) || !std::isfinite(weight_decay))
        return qft_set_error(QFT_EINVAL,
                             "qft_quant_lion_step: bad arguments (%lld tensors, lr %g, beta1 %g, beta2 %g, wd %g, "
                             "rounding %d, null descriptor or flag?)",
                             (long long)n_tensors, lr, beta1, beta2, weight_decay, rounding);
    for (int64_t i = 0; i < n_tensors; ++i)
        if (int rc = qft::check_lion_tensor(qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS), i)) return rc;
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_quant_lion_step", device, desc, n_tensors, lr, beta1, beta2, weight_decay, step,
                              seed, rounding, found_nonfinite);
    return qft::guarded("qft_quant_lion_step", [&] {
        std::vector<qft::LionTensor> ts;
        std::vector<int64_t> first_row{0};  // first_row[i]: global index of tensor i's row 0
        for (int64_t i = 0; i < n_tensors; ++i) {
            ts.push_back(qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS));
            first_row.push_back(first_row.back() + ts.back().rows);
        }
        int32_t* flag = qft::ptr<int32_t>(found_nonfinite);
        *flag = 0;
        for (const auto& t : ts)
            if (!qft::lion_gradient_finite(t)) *flag = 1;
        if (*flag) return QFT_OK;
        const qft::LionConsts k = qft::lion_consts(lr, beta1, beta2, weight_decay);
        const bool sr = rounding != QFT_ROUND_NEAREST, weyl = rounding == QFT_ROUND_STOCHASTIC_WEYL;
        qft::parallel_for(first_row.back(), 4, [&](int64_t g0, int64_t g1) {
            std::vector<float> wn, mn;
            std::vector<uint8_t> outlier;
            int64_t i = std::upper_bound(first_row.begin(), first_row.end(), g0) - first_row.begin() - 1;
            for (int64_t g = g0; g < g1; ++g) {
                while (g >= first_row[i + 1]) ++i;
                const auto& t = ts[i];
                qft::lion_step_ref(t, g - first_row[i], k, qft::rounding_stream(seed, step, t.tensor_id, weyl),
                                   qft::rounding_offset(step, weyl), sr, wn, mn, outlier);
            }
        });
        return QFT_OK;
    });
}

extern "C" int qft_lion_fp32_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t n, float lr, float beta1,
                                  float beta2, float weight_decay) {
    if (device != QFT_DEVICE_CPU || !w || !g || !m || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_lion_fp32_step: bad arguments (device %d, n %lld): a CPU-only reference",
                             device, (long long)n);
    return qft::guarded("qft_lion_fp32_step", [&] {
        const qft::LionConsts k = qft::lion_consts(lr, beta1, beta2, weight_decay);
        float *pw = qft::ptr<float>(w), *pg = qft::ptr<float>(g), *pm = qft::ptr<float>(m);
        qft::parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) qft::lion_element(k, pg[i], &pw[i], &pm[i]);
        });
        return QFT_OK;
    });
}

extern "C" int qft_adamw_fp32_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t v, int64_t n, float lr,
                                   float beta1, float beta2, float eps, float weight_decay, int64_t step) {
    if (device != QFT_DEVICE_CPU || !w || !g || !m || !v || n < 0 || step < 1)
        return qft_set_error(QFT_EINVAL, "qft_adamw_fp32_step: bad arguments (device %d, n %lld, step %lld): a CPU-only "
                             "reference, step counts from 1", device, (long long)n, (long long)step);
    return qft::guarded("qft_adamw_fp32_step", [&] {
        // torch.optim.AdamW (single-tensor, non-amsgrad) operation order.
        const float bc1 = 1.0f - std::pow(beta1, (float)step), bc2_sqrt = std::sqrt(1.0f - std::pow(beta2, (float)step));
        const float step_size = lr / bc1, decay = 1.0f - lr * weight_decay;
        float *pw = qft::ptr<float>(w), *pg = qft::ptr<float>(g), *pm = qft::ptr<float>(m), *pv = qft::ptr<float>(v);
        qft::parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
                pw[i] *= decay;
                pm[i] = beta1 * pm[i] + (1.0f - beta1) * pg[i];
                pv[i] = beta2 * pv[i] + (1.0f - beta2) * pg[i] * pg[i];
                pw[i] -= step_size * pm[i] / (std::sqrt(pv[i]) / bc2_sqrt + eps);
            }
        });
        return QFT_OK;
    });
}
