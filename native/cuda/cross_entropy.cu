// Fused softmax cross-entropy with an ignore mask on the GPU; the CPU reference is cross_entropy_ref in
// native/cpu/cross_entropy.cpp. One block per row: block max, block sum of exponentials (float), then
// the loss and the scaled gradient row.
#include "engine.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void cross_entropy_kernel(const float* __restrict__ logits, const int32_t* __restrict__ targets, int64_t vocab,
                                     float dscale, float* __restrict__ losses, float* __restrict__ dlogits, int* bad) {
    __shared__ float sh[32];
    const int64_t t = blockIdx.x;
    const float* l = logits + t * vocab;
    float* d = dlogits + t * vocab;
    const int32_t target = targets[t];
    if (target < 0 || target >= vocab) {
        for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) d[j] = 0.0f;
        if (threadIdx.x == 0) {
            losses[t] = 0.0f;
            if (target >= vocab) atomicAdd(bad, 1);
        }
        return;
    }
    float mx = -FLT_MAX;
    for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) mx = fmaxf(mx, l[j]);
    mx = qft::block_max_signed(mx, sh);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) sum += expf(l[j] - mx);
    sum = qft::block_sum(sum, sh);
    if (threadIdx.x == 0) losses[t] = mx + logf(sum) - l[target];
    const float inv = 1.0f / sum;
    for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x)
        d[j] = expf(l[j] - mx) * inv * dscale - (j == target ? dscale : 0.0f);
}

}  // namespace

extern "C" QFT_API int qft_cuda_cross_entropy(int32_t device, int64_t logits, int64_t targets, int64_t n, int64_t vocab,
                                              float dscale, int64_t losses, int64_t dlogits) {
    if (n == 0) return QFT_OK;
    if (n > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_cross_entropy: %lld rows exceed the CUDA grid limit", (long long)n);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount bad;
    if (int st = bad.init()) return st;
    cross_entropy_kernel<<<static_cast<unsigned>(n), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(logits), qft::ptr<const int32_t>(targets), vocab, dscale, qft::ptr<float>(losses),
        qft::ptr<float>(dlogits), bad.ptr);
    QFT_LAUNCH_CHECK("cross_entropy_kernel");
    int count = 0;
    if (int st = bad.read(&count)) return st;
    if (count > 0)
        return qft_set_error(QFT_EINVAL, "qft_cross_entropy: %d of %lld targets are >= vocab %lld", count, (long long)n,
                             (long long)vocab);
    return QFT_OK;
}
