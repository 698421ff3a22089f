// SwiGLU gate forward and backward on the GPU; the CPU references are in native/cpu/swiglu.cpp.
#include "engine.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void swiglu_forward_kernel(const float* __restrict__ h1, const float* __restrict__ h3, int64_t n,
                                      float* __restrict__ g) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float h = h1[i];
        g[i] = h * (1.0f / (1.0f + expf(-h))) * h3[i];
    }
}

// dh1 may alias h1 and dh3 h3 (no __restrict__ on them): each thread reads its element before storing.
__global__ void swiglu_backward_kernel(const float* __restrict__ dg, const float* h1, const float* h3, int64_t n, float* dh1,
                                       float* dh3) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float h = h1[i], s = 1.0f / (1.0f + expf(-h)), g = dg[i], h3i = h3[i];
        const float d3 = g * h * s;
        const float d1 = g * h3i * s * (1.0f + h * (1.0f - s));
        dh3[i] = d3;
        dh1[i] = d1;
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_swiglu_forward(int32_t device, int64_t h1, int64_t h3, int64_t n, int64_t g) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    swiglu_forward_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(qft::ptr<const float>(h1),
                                                                                     qft::ptr<const float>(h3), n, qft::ptr<float>(g));
    QFT_LAUNCH_CHECK("swiglu_forward_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_swiglu_backward(int32_t device, int64_t dg, int64_t h1, int64_t h3, int64_t n, int64_t dh1,
                                                int64_t dh3) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    swiglu_backward_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(dg), qft::ptr<const float>(h1), qft::ptr<const float>(h3), n, qft::ptr<float>(dh1),
        qft::ptr<float>(dh3));
    QFT_LAUNCH_CHECK("swiglu_backward_kernel");
    return QFT_OK;
}
