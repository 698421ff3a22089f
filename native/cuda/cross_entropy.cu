// Cross-entropy over vocabulary chunks (online softmax) on the GPU; the CPU references are in
// native/cpu/cross_entropy.cpp. Stats: one block per row (block max, block fp32 sum of exponentials
// of the chunk, folded by thread 0 into the row's fp64 running sum). Grad: elementwise over the chunk.
#include <cmath>

#include "engine.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void chunk_begin_kernel(int64_t n, float* max, double* sum, float* target_logit) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
        max[t] = -INFINITY;
        sum[t] = 0.0;
        target_logit[t] = 0.0f;
    }
}

__global__ void chunk_stats_kernel(const float* __restrict__ logits, int64_t cols, int64_t col0, const int32_t* __restrict__ targets,
                                   float* max, double* sum, float* target_logit) {
    __shared__ float sh[32];
    const int64_t t = blockIdx.x;
    const int32_t target = targets[t];
    if (target < 0) return;
    const float* l = logits + t * cols;
    const float old = max[t];
    float m = old;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, l[j]);
    m = qft::block_max_signed(m, sh);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += expf(l[j] - m);
    s = qft::block_sum(s, sh);
    if (threadIdx.x == 0) {
        // The same fold as the reference: exp(-inf - m) = 0 keeps an empty start exact.
        sum[t] = (old == -INFINITY ? 0.0 : sum[t] * exp(static_cast<double>(old) - m)) + s;
        max[t] = m;
        const int64_t c = target - col0;
        if (c >= 0 && c < cols) target_logit[t] = l[c];
    }
}

__global__ void chunk_finish_kernel(int64_t n, int64_t vocab, const int32_t* __restrict__ targets, const float* __restrict__ max,
                                    const double* __restrict__ sum, const float* __restrict__ target_logit, float* lse, float* losses,
                                    int* bad) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
        const int32_t target = targets[t];
        if (target < 0 || target >= vocab) {
            lse[t] = 0.0f;
            losses[t] = 0.0f;
            if (target >= vocab) atomicAdd(bad, 1);
            continue;
        }
        const double z = max[t] + log(sum[t]);
        lse[t] = static_cast<float>(z);
        losses[t] = static_cast<float>(z - target_logit[t]);
    }
}

__global__ void chunk_grad_kernel(float* logits, int64_t n, int64_t cols, int64_t col0, const int32_t* __restrict__ targets,
                                  const float* __restrict__ lse, float dscale) {
    const int64_t total = n * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / cols, j = i - t * cols;
        const int32_t target = targets[t];
        if (target < 0) {
            logits[i] = 0.0f;
            continue;
        }
        const float d = expf(logits[i] - lse[t]) * dscale;
        logits[i] = target - col0 == j ? d - dscale : d;
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_cross_entropy_chunk_begin(int32_t device, int64_t n, int64_t max, int64_t sum, int64_t target_logit) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    chunk_begin_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(n, qft::ptr<float>(max), qft::ptr<double>(sum),
                                                                                 qft::ptr<float>(target_logit));
    QFT_LAUNCH_CHECK("chunk_begin_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_cross_entropy_chunk_stats(int32_t device, int64_t logits, int64_t n, int64_t cols, int64_t col0,
                                                          int64_t targets, int64_t max, int64_t sum, int64_t target_logit) {
    if (n == 0) return QFT_OK;
    if (n > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_cross_entropy_chunk_stats: %lld rows exceed the CUDA grid limit", (long long)n);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    chunk_stats_kernel<<<static_cast<unsigned>(n), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(logits), cols, col0, qft::ptr<const int32_t>(targets), qft::ptr<float>(max), qft::ptr<double>(sum),
        qft::ptr<float>(target_logit));
    QFT_LAUNCH_CHECK("chunk_stats_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_cross_entropy_chunk_finish(int32_t device, int64_t n, int64_t vocab, int64_t targets, int64_t max,
                                                           int64_t sum, int64_t target_logit, int64_t lse, int64_t losses) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount bad;
    if (int st = bad.init()) return st;
    chunk_finish_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(
        n, vocab, qft::ptr<const int32_t>(targets), qft::ptr<const float>(max), qft::ptr<const double>(sum),
        qft::ptr<const float>(target_logit), qft::ptr<float>(lse), qft::ptr<float>(losses), bad.ptr);
    QFT_LAUNCH_CHECK("chunk_finish_kernel");
    int count = 0;
    if (int st = bad.read(&count)) return st;
    if (count > 0)
        return qft_set_error(QFT_EINVAL, "qft_cross_entropy_chunk_finish: %d of %lld targets are >= vocab %lld", count, (long long)n,
                             (long long)vocab);
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_cross_entropy_chunk_grad(int32_t device, int64_t logits, int64_t n, int64_t cols, int64_t col0,
                                                         int64_t targets, int64_t lse, float dscale) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    chunk_grad_kernel<<<qft::grid_1d(n * cols, kThreads), kThreads, 0, qft::stream()>>>(
        qft::ptr<float>(logits), n, cols, col0, qft::ptr<const int32_t>(targets), qft::ptr<const float>(lse), dscale);
    QFT_LAUNCH_CHECK("chunk_grad_kernel");
    return QFT_OK;
}
