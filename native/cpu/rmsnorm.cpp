// RMSNorm forward and backward: plain references and the device dispatch.
// Reference: llama2.c `rmsnorm`; the backward is the derivative of y = w * x * rstd(x).
// CUDA twin: native/cuda/rmsnorm.cu.
#include <cmath>

#include "../common/internal.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/rmsnorm.h"

namespace qft {

// Rows [t0, t1).
void rmsnorm_forward_ref(const float* x, const float* w, int64_t t0, int64_t t1, int64_t c, float eps, float* y, float* rstd) {
    for (int64_t t = t0; t < t1; ++t) {
        const float* xt = x + t * c;
        float ss = 0.0f;
        for (int64_t j = 0; j < c; ++j) ss += xt[j] * xt[j];
        float r = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ss / c + eps)));
        rstd[t] = r;
        for (int64_t j = 0; j < c; ++j) y[t * c + j] = w[j] * (r * xt[j]);
    }
}

// dx rows [t0, t1).
void rmsnorm_backward_dx_ref(const float* dy, const float* x, const float* w, const float* rstd, int64_t t0, int64_t t1,
                             int64_t c, float* dx) {
    for (int64_t t = t0; t < t1; ++t) {
        const float *dyt = dy + t * c, *xt = x + t * c;
        float r = rstd[t], dot = 0.0f;
        for (int64_t j = 0; j < c; ++j) dot += w[j] * dyt[j] * xt[j];
        float k = r * r * r * dot / c;
        for (int64_t j = 0; j < c; ++j) dx[t * c + j] += r * w[j] * dyt[j] - k * xt[j];
    }
}

// dw columns [j0, j1), each summed over t in order.
void rmsnorm_backward_dw_ref(const float* dy, const float* x, const float* rstd, int64_t n, int64_t c, int64_t j0, int64_t j1,
                             float* dw) {
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = j0; j < j1; ++j) dw[j] += dy[t * c + j] * x[t * c + j] * rstd[t];
}

}  // namespace qft

extern "C" int qft_rmsnorm_forward(int32_t device, int64_t x, int64_t w, int64_t n, int64_t c, float eps, int64_t y,
                                   int64_t rstd) {
    if (x == 0 || w == 0 || y == 0 || rstd == 0 || n < 0 || c <= 0 || !(eps > 0.0f))
        return qft_set_error(QFT_EINVAL, "qft_rmsnorm_forward: bad arguments (x (%lld, %lld), eps %g, null pointer?)",
                             (long long)n, (long long)c, (double)eps);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_rmsnorm_forward", device, x, w, n, c, eps, y, rstd);
    return qft::guarded("qft_rmsnorm_forward", [&] {
        qft::parallel_for(n, qft::grain_for(c), [&](int64_t t0, int64_t t1) {
            qft::rmsnorm_forward_ref(qft::ptr<float>(x), qft::ptr<float>(w), t0, t1, c, eps, qft::ptr<float>(y), qft::ptr<float>(rstd));
        });
        return QFT_OK;
    });
}

extern "C" int qft_rmsnorm_backward(int32_t device, int64_t dy, int64_t x, int64_t w, int64_t rstd, int64_t n, int64_t c,
                                    int64_t dx, int64_t dw) {
    if (dy == 0 || x == 0 || w == 0 || rstd == 0 || dx == 0 || dw == 0 || n < 0 || c <= 0)
        return qft_set_error(QFT_EINVAL, "qft_rmsnorm_backward: bad arguments (dy (%lld, %lld), null pointer?)", (long long)n,
                             (long long)c);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_rmsnorm_backward", device, dy, x, w, rstd, n, c, dx, dw);
    return qft::guarded("qft_rmsnorm_backward", [&] {
        const float *pdy = qft::ptr<float>(dy), *px = qft::ptr<float>(x), *pr = qft::ptr<float>(rstd);
        qft::parallel_for(n, qft::grain_for(c), [&](int64_t t0, int64_t t1) {
            qft::rmsnorm_backward_dx_ref(pdy, px, qft::ptr<float>(w), pr, t0, t1, c, qft::ptr<float>(dx));
        });
        qft::parallel_for(c, qft::grain_for(n), [&](int64_t j0, int64_t j1) {
            qft::rmsnorm_backward_dw_ref(pdy, px, pr, n, c, j0, j1, qft::ptr<float>(dw));
        });
        return QFT_OK;
    });
}
