// Fused softmax cross-entropy with an ignore mask: plain reference and the device dispatch.
// Reference: llm.c `crossentropy_forward` + `crossentropy_softmax_backward`. CUDA twin: native/cuda/cross_entropy.cu.
#include <cmath>

#include "../common/internal.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/cross_entropy.h"

namespace qft {

// Rows [t0, t1); targets were checked to be < vocab.
void cross_entropy_ref(const float* logits, const int32_t* targets, int64_t t0, int64_t t1, int64_t vocab, float dscale,
                       float* losses, float* dlogits) {
    for (int64_t t = t0; t < t1; ++t) {
        const float* l = logits + t * vocab;
        float* d = dlogits + t * vocab;
        if (targets[t] < 0) {
            losses[t] = 0.0f;
            for (int64_t j = 0; j < vocab; ++j) d[j] = 0.0f;
            continue;
        }
        float max = -INFINITY;
        for (int64_t j = 0; j < vocab; ++j) max = std::fmax(max, l[j]);
        double sum = 0.0;
        for (int64_t j = 0; j < vocab; ++j) {
            float e = std::exp(l[j] - max);
            d[j] = e;
            sum += e;
        }
        losses[t] = static_cast<float>(max + std::log(sum) - l[targets[t]]);
        float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < vocab; ++j) d[j] = d[j] * inv * dscale;
        d[targets[t]] -= dscale;
    }
}

}  // namespace qft

extern "C" int qft_cross_entropy(int32_t device, int64_t logits, int64_t targets, int64_t n, int64_t vocab, float dscale,
                                 int64_t losses, int64_t dlogits) {
    if (logits == 0 || targets == 0 || losses == 0 || dlogits == 0 || n < 0 || vocab <= 0 || !std::isfinite(dscale))
        return qft_set_error(QFT_EINVAL, "qft_cross_entropy: bad arguments (logits (%lld, %lld), dscale %g, null pointer?)",
                             (long long)n, (long long)vocab, (double)dscale);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_cross_entropy", device, logits, targets, n, vocab, dscale, losses, dlogits);
    return qft::guarded("qft_cross_entropy", [&] {
        const int32_t* tg = qft::ptr<int32_t>(targets);
        int64_t bad = 0;
        for (int64_t t = 0; t < n; ++t) bad += tg[t] >= vocab;
        if (bad > 0)
            return qft_set_error(QFT_EINVAL, "qft_cross_entropy: %lld of %lld targets are >= vocab %lld", (long long)bad, (long long)n,
                                 (long long)vocab);
        qft::parallel_for(n, qft::grain_for(3 * vocab), [&](int64_t t0, int64_t t1) {
            qft::cross_entropy_ref(qft::ptr<float>(logits), tg, t0, t1, vocab, dscale, qft::ptr<float>(losses), qft::ptr<float>(dlogits));
        });
        return QFT_OK;
    });
}
