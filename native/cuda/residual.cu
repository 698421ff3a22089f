// Residual add y += x on the GPU; the CPU reference is residual_add_ref in native/cpu/residual.cpp.
#include "engine.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void residual_add_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) y[i] += x[i];
}

}  // namespace

extern "C" QFT_API int qft_cuda_residual_add(int32_t device, int64_t y, int64_t x, int64_t n) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    residual_add_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(qft::ptr<float>(y), qft::ptr<const float>(x), n);
    QFT_LAUNCH_CHECK("residual_add_kernel");
    return QFT_OK;
}
