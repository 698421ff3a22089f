// Rotary position embedding in place on the GPU, both pair layouts; the CPU reference is rope_ref in
// native/cpu/rope.cpp. One thread per rotated pair.
#include "engine.cuh"
#include "qft4j/rope.h"

namespace {

constexpr int kThreads = 256;

__global__ void rope_kernel(float* __restrict__ x, int64_t n, int64_t T, int64_t heads, int64_t head_size, int32_t layout,
                            const float* __restrict__ cos, const float* __restrict__ sin, int32_t inverse) {
    const int64_t half = head_size / 2, pairs = n * heads * half;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < pairs; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e % half, rh = e / half, r = rh / heads;
        float* base = x + rh * head_size;
        const float fc = cos[(r % T) * half + i], fs = inverse ? -sin[(r % T) * half + i] : sin[(r % T) * half + i];
        float* a = layout == QFT_ROPE_ADJACENT_PAIRS ? base + 2 * i : base + i;
        float* b = layout == QFT_ROPE_ADJACENT_PAIRS ? a + 1 : a + half;
        const float v0 = *a, v1 = *b;
        *a = v0 * fc - v1 * fs;
        *b = v0 * fs + v1 * fc;
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_rope(int32_t device, int64_t x, int64_t n, int64_t T, int64_t heads, int64_t head_size,
                                     int32_t layout, int64_t cos, int64_t sin, int32_t inverse) {
    const int64_t pairs = n * heads * (head_size / 2);
    if (pairs == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    rope_kernel<<<qft::grid_1d(pairs, kThreads), kThreads, 0, qft::stream()>>>(
        qft::ptr<float>(x), n, T, heads, head_size, layout, qft::ptr<const float>(cos), qft::ptr<const float>(sin), inverse);
    QFT_LAUNCH_CHECK("rope_kernel");
    return QFT_OK;
}
