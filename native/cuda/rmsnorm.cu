// RMSNorm forward and backward on the GPU; the CPU references are in native/cpu/rmsnorm.cpp.
// Forward and dx: one block per row with a block-wide sum. dw: one thread per column summing over
// rows in order, the CPU's order, so the weight gradient needs no atomics and is deterministic.
#include "engine.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void rmsnorm_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, int64_t c, float eps,
                                       float* __restrict__ y, float* __restrict__ rstd) {
    __shared__ float sh[32];
    const int64_t t = blockIdx.x;
    const float* xt = x + t * c;
    float ss = 0.0f;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) ss += xt[j] * xt[j];
    ss = qft::block_sum(ss, sh);
    const float r = static_cast<float>(1.0 / sqrt(static_cast<double>(ss / c + eps)));
    if (threadIdx.x == 0) rstd[t] = r;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) y[t * c + j] = w[j] * (r * xt[j]);
}

__global__ void rmsnorm_backward_dx_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                           const float* __restrict__ w, const float* __restrict__ rstd, int64_t c,
                                           float* __restrict__ dx) {
    __shared__ float sh[32];
    const int64_t t = blockIdx.x;
    const float *dyt = dy + t * c, *xt = x + t * c;
    float dot = 0.0f;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) dot += w[j] * dyt[j] * xt[j];
    dot = qft::block_sum(dot, sh);
    const float r = rstd[t], k = r * r * r * dot / c;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) dx[t * c + j] += r * w[j] * dyt[j] - k * xt[j];
}

__global__ void rmsnorm_backward_dw_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                           const float* __restrict__ rstd, int64_t n, int64_t c, float* __restrict__ dw) {
    const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (j >= c) return;
    float acc = dw[j];
    for (int64_t t = 0; t < n; ++t) acc += dy[t * c + j] * x[t * c + j] * rstd[t];
    dw[j] = acc;
}

}  // namespace

extern "C" QFT_API int qft_cuda_rmsnorm_forward(int32_t device, int64_t x, int64_t w, int64_t n, int64_t c, float eps, int64_t y,
                                                int64_t rstd) {
    if (n == 0) return QFT_OK;
    if (n > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_rmsnorm_forward: %lld rows exceed the CUDA grid limit", (long long)n);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    rmsnorm_forward_kernel<<<static_cast<unsigned>(n), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(x), qft::ptr<const float>(w), c, eps, qft::ptr<float>(y), qft::ptr<float>(rstd));
    QFT_LAUNCH_CHECK("rmsnorm_forward_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_rmsnorm_backward(int32_t device, int64_t dy, int64_t x, int64_t w, int64_t rstd, int64_t n,
                                                 int64_t c, int64_t dx, int64_t dw) {
    if (n == 0) return QFT_OK;
    if (n > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_rmsnorm_backward: %lld rows exceed the CUDA grid limit", (long long)n);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    rmsnorm_backward_dx_kernel<<<static_cast<unsigned>(n), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(dy), qft::ptr<const float>(x), qft::ptr<const float>(w), qft::ptr<const float>(rstd), c,
        qft::ptr<float>(dx));
    QFT_LAUNCH_CHECK("rmsnorm_backward_dx_kernel");
    rmsnorm_backward_dw_kernel<<<static_cast<unsigned>(qft::ceil_div(c, kThreads)), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(dy), qft::ptr<const float>(x), qft::ptr<const float>(rstd), n, c, qft::ptr<float>(dw));
    QFT_LAUNCH_CHECK("rmsnorm_backward_dw_kernel");
    return QFT_OK;
}
