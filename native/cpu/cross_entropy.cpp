// Cross-entropy over vocabulary chunks (online softmax): plain reference and the device dispatch.
// Reference: Milakov & Gimelshein 2018 (arXiv 1805.02867) for the running max/sum; the loss and gradient
// are llm.c's `crossentropy_softmax_backward`. CUDA twin: native/cuda/cross_entropy.cu.
#include <cmath>

#include "../common/internal.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/cross_entropy.h"

namespace qft {

// Rows [t0, t1) of a chunk holding columns [col0, col0 + cols): folds them into the running statistics.
void cross_entropy_chunk_stats_ref(const float* logits, int64_t t0, int64_t t1, int64_t cols, int64_t col0,
                                   const int32_t* targets, float* max, double* sum, float* target_logit) {
    for (int64_t t = t0; t < t1; ++t) {
        if (targets[t] < 0) continue;
        const float* l = logits + t * cols;
        float m = max[t];
        for (int64_t j = 0; j < cols; ++j) m = std::fmax(m, l[j]);
        // exp(-inf - m) = 0 keeps an empty start exact; m stays -inf only for a row of -inf logits.
        double s = max[t] == -INFINITY ? 0.0 : sum[t] * std::exp(static_cast<double>(max[t]) - m);
        for (int64_t j = 0; j < cols; ++j) s += std::exp(l[j] - m);
        max[t] = m;
        sum[t] = s;
        int64_t c = targets[t] - col0;
        if (c >= 0 && c < cols) target_logit[t] = l[c];
    }
}

void cross_entropy_chunk_finish_ref(int64_t t0, int64_t t1, const int32_t* targets, const float* max, const double* sum,
                                    const float* target_logit, float* lse, float* losses) {
    for (int64_t t = t0; t < t1; ++t) {
        if (targets[t] < 0) {
            lse[t] = 0.0f;
            losses[t] = 0.0f;
            continue;
        }
        double z = max[t] + std::log(sum[t]);
        lse[t] = static_cast<float>(z);
        losses[t] = static_cast<float>(z - target_logit[t]);
    }
}

void cross_entropy_chunk_grad_ref(float* logits, int64_t t0, int64_t t1, int64_t cols, int64_t col0, const int32_t* targets,
                                  const float* lse, float dscale) {
    for (int64_t t = t0; t < t1; ++t) {
        float* d = logits + t * cols;
        if (targets[t] < 0) {
            for (int64_t j = 0; j < cols; ++j) d[j] = 0.0f;
            continue;
        }
        for (int64_t j = 0; j < cols; ++j) d[j] = std::exp(d[j] - lse[t]) * dscale;
        int64_t c = targets[t] - col0;
        if (c >= 0 && c < cols) d[c] -= dscale;
    }
}

}  // namespace qft

namespace {

int bad_chunk(const char* fn, int64_t n, int64_t cols, int64_t col0) {
    return qft_set_error(QFT_EINVAL, "%s: bad arguments (chunk (%lld, %lld) at column %lld, null pointer?)", fn, (long long)n,
                         (long long)cols, (long long)col0);
}

}  // namespace

extern "C" int qft_cross_entropy_chunk_begin(int32_t device, int64_t n, int64_t max, int64_t sum, int64_t target_logit) {
    if (max == 0 || sum == 0 || target_logit == 0 || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_cross_entropy_chunk_begin: bad arguments (n %lld, null pointer?)", (long long)n);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_cross_entropy_chunk_begin", device, n, max, sum, target_logit);
    return qft::guarded("qft_cross_entropy_chunk_begin", [&] {
        for (int64_t t = 0; t < n; ++t) {
            qft::ptr<float>(max)[t] = -INFINITY;
            qft::ptr<double>(sum)[t] = 0.0;
            qft::ptr<float>(target_logit)[t] = 0.0f;
        }
        return QFT_OK;
    });
}

extern "C" int qft_cross_entropy_chunk_stats(int32_t device, int64_t logits, int64_t n, int64_t cols, int64_t col0, int64_t targets,
                                             int64_t max, int64_t sum, int64_t target_logit) {
    if (logits == 0 || targets == 0 || max == 0 || sum == 0 || target_logit == 0 || n < 0 || cols <= 0 || col0 < 0)
        return bad_chunk("qft_cross_entropy_chunk_stats", n, cols, col0);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_cross_entropy_chunk_stats", device, logits, n, cols, col0, targets, max, sum, target_logit);
    return qft::guarded("qft_cross_entropy_chunk_stats", [&] {
        qft::parallel_for(n, qft::grain_for(2 * cols), [&](int64_t t0, int64_t t1) {
            qft::cross_entropy_chunk_stats_ref(qft::ptr<float>(logits), t0, t1, cols, col0, qft::ptr<int32_t>(targets), qft::ptr<float>(max),
                                               qft::ptr<double>(sum), qft::ptr<float>(target_logit));
        });
        return QFT_OK;
    });
}

extern "C" int qft_cross_entropy_chunk_finish(int32_t device, int64_t n, int64_t vocab, int64_t targets, int64_t max, int64_t sum,
                                              int64_t target_logit, int64_t lse, int64_t losses) {
    if (targets == 0 || max == 0 || sum == 0 || target_logit == 0 || lse == 0 || losses == 0 || n < 0 || vocab <= 0)
        return qft_set_error(QFT_EINVAL, "qft_cross_entropy_chunk_finish: bad arguments (n %lld, vocab %lld, null pointer?)",
                             (long long)n, (long long)vocab);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_cross_entropy_chunk_finish", device, n, vocab, targets, max, sum, target_logit, lse, losses);
    return qft::guarded("qft_cross_entropy_chunk_finish", [&] {
        const int32_t* tg = qft::ptr<int32_t>(targets);
        int64_t bad = 0;
        for (int64_t t = 0; t < n; ++t) bad += tg[t] >= vocab;
        if (bad > 0)
            return qft_set_error(QFT_EINVAL, "qft_cross_entropy_chunk_finish: %lld of %lld targets are >= vocab %lld", (long long)bad,
                                 (long long)n, (long long)vocab);
        qft::cross_entropy_chunk_finish_ref(0, n, tg, qft::ptr<float>(max), qft::ptr<double>(sum), qft::ptr<float>(target_logit),
                                            qft::ptr<float>(lse), qft::ptr<float>(losses));
        return QFT_OK;
    });
}

extern "C" int qft_cross_entropy_chunk_grad(int32_t device, int64_t logits, int64_t n, int64_t cols, int64_t col0, int64_t targets,
                                            int64_t lse, float dscale) {
    if (logits == 0 || targets == 0 || lse == 0 || n < 0 || cols <= 0 || col0 < 0 || !std::isfinite(dscale))
        return bad_chunk("qft_cross_entropy_chunk_grad", n, cols, col0);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_cross_entropy_chunk_grad", device, logits, n, cols, col0, targets, lse, dscale);
    return qft::guarded("qft_cross_entropy_chunk_grad", [&] {
        qft::parallel_for(n, qft::grain_for(2 * cols), [&](int64_t t0, int64_t t1) {
            qft::cross_entropy_chunk_grad_ref(qft::ptr<float>(logits), t0, t1, cols, col0, qft::ptr<int32_t>(targets), qft::ptr<float>(lse),
                                              dscale);
        });
        return QFT_OK;
    });
}
