// SwiGLU gate forward and backward: plain references and the device dispatch.
// Reference: llama2.c `forward` (SwiGLU non-linearity). CUDA twin: native/cuda/swiglu.cu.
#include <cmath>

#include "../common/internal.h"
#include "parallel.h"
#include "qft4j/swiglu.h"

namespace qft {

void swiglu_forward_ref(const float* h1, const float* h3, int64_t i0, int64_t i1, float* g) {
    for (int64_t i = i0; i < i1; ++i) {
        float h = h1[i];
        g[i] = h * (1.0f / (1.0f + std::exp(-h))) * h3[i];
    }
}

// dh1 may alias h1 and dh3 h3: both outputs are computed before either is stored.
void swiglu_backward_ref(const float* dg, const float* h1, const float* h3, int64_t i0, int64_t i1, float* dh1, float* dh3) {
    for (int64_t i = i0; i < i1; ++i) {
        const float h = h1[i], s = 1.0f / (1.0f + std::exp(-h));
        const float d3 = dg[i] * h * s;
        const float d1 = dg[i] * h3[i] * s * (1.0f + h * (1.0f - s));
        dh3[i] = d3;
        dh1[i] = d1;
    }
}

}  // namespace qft

extern "C" int qft_swiglu_forward(int32_t device, int64_t h1, int64_t h3, int64_t n, int64_t g) {
    if (h1 == 0 || h3 == 0 || g == 0 || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_swiglu_forward: bad arguments (n %lld, null pointer?)", (long long)n);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_swiglu_forward", device, h1, h3, n, g);
    return qft::guarded("qft_swiglu_forward", [&] {
        qft::parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
            qft::swiglu_forward_ref(qft::ptr<float>(h1), qft::ptr<float>(h3), i0, i1, qft::ptr<float>(g));
        });
        return QFT_OK;
    });
}

extern "C" int qft_swiglu_backward(int32_t device, int64_t dg, int64_t h1, int64_t h3, int64_t n, int64_t dh1, int64_t dh3) {
    if (dg == 0 || h1 == 0 || h3 == 0 || dh1 == 0 || dh3 == 0 || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_swiglu_backward: bad arguments (n %lld, null pointer?)", (long long)n);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_swiglu_backward", device, dg, h1, h3, n, dh1, dh3);
    return qft::guarded("qft_swiglu_backward", [&] {
        qft::parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
            qft::swiglu_backward_ref(qft::ptr<float>(dg), qft::ptr<float>(h1), qft::ptr<float>(h3), i0, i1, qft::ptr<float>(dh1),
                                     qft::ptr<float>(dh3));
        });
        return QFT_OK;
    });
}
