// Training-step helpers (train_step.h) on the GPU; the CPU references are in native/cpu/train_step.cpp.
// Row sums: one thread block per row, each thread sums a fixed stride of the row in fp64, then a fixed
// shared-memory tree: deterministic for a given block size (not the CPU's sequential order, so the two
// agree to fp64 rounding). Lion: the element rule of qft_math.h, bit-identical to the CPU.
#include "../common/qft_math.h"
#include "engine.cuh"
#include "int8_block.cuh"
#include "reduce.cuh"
#include "qft4j/train_step.h"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ double block_sum_f64(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int o = kThreads / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    return sh[0];
}

__global__ void int8_blocks_row_sumsq_kernel(const int8_t* __restrict__ codes, const float* __restrict__ scales,
                                             int64_t cols, int64_t block, double* __restrict__ out) {
    __shared__ double sh[kThreads];
    const int64_t r = blockIdx.x, nb = qft::div_up(cols, block);
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
        const double v = qft::fmul(static_cast<float>(codes[r * cols + c]), scales[r * nb + c / block]);
        s += v * v;
    }
    s = block_sum_f64(s, sh);
    if (threadIdx.x == 0) out[r] = s;
}

__global__ void f32_row_sumsq_kernel(const float* __restrict__ x, int64_t cols, double* __restrict__ out) {
    __shared__ double sh[kThreads];
    const int64_t r = blockIdx.x;
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
        const double v = x[r * cols + c];
        s += v * v;
    }
    s = block_sum_f64(s, sh);
    if (threadIdx.x == 0) out[r] = s;
}

// One thread block per quantization block, as int8_blocks_quantize_kernel, with stochastic codes.
// row0: the tensor's row of x's row 0 (the RNG key is the tensor's row), as the CPU reference.
__global__ void int8_blocks_quantize_stochastic_kernel(const float* __restrict__ x, int64_t cols, int64_t block, int64_t nb,
                                                       uint64_t stream, int64_t row0, int8_t* __restrict__ codes,
                                                       float* __restrict__ scales) {
    const uint64_t row_key = qft::rng_row(stream, static_cast<uint64_t>(row0 + blockIdx.x / nb));
    qft::quantize_int8_block(x, cols, block, nb, codes, scales, [row_key](float v, float inv, int64_t c) {
        return qft::quantize_stochastic(v, inv, qft::rng_bits(row_key, static_cast<uint32_t>(c)));
    });
}

__global__ void f32_scale_kernel(float* __restrict__ x, int64_t n, const float* __restrict__ alpha) {
    const float a = *alpha;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        x[i] = qft::fmul(x[i], a);
}

__global__ void lion_fp32_scaled_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m, int64_t n,
                                        qft::LionConsts k, const float* __restrict__ grad_scale) {
    const float scale = *grad_scale;
    if (!qft::finite(scale)) return;  // a skipped tensor (qft_clip_factors)
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        qft::lion_element(k, qft::fmul(g[i], scale), &w[i], &m[i]);
}

// The row counts of qft_clip_factors' tensors, passed by value (no host-to-device copy).
struct ClipRows {
    int64_t n[QFT_CLIP_MAX_TENSORS];
};

// One thread per tensor adds its row sums in row order (as the CPU); thread 0 then applies the policy in
// tensor order. Sequential fp64 adds: ~11K rows (a 7B w1) take tens of microseconds, on the stream, not the host.
__global__ void clip_factors_kernel(const double* __restrict__ sums, ClipRows rows, int n, double clip_norm, int per_tensor,
                                    int64_t* __restrict__ state, float* __restrict__ factors) {
    __shared__ double tensor_sum[QFT_CLIP_MAX_TENSORS];
    const int i = threadIdx.x;
    if (i < n) {
        int64_t at = 0;
        for (int j = 0; j < i; ++j) at += rows.n[j];
        double s = 0.0;
        for (int64_t r = 0; r < rows.n[i]; ++r) s += sums[at + r];
        tensor_sum[i] = s;
    }
    __syncthreads();
    if (i == 0)
        for (int j = 0; j < n; ++j) factors[j] = qft::fused_clip_factor(tensor_sum[j], clip_norm, per_tensor, state);
}

int check_rows(const char* op, int64_t rows) {
    if (rows > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: %lld rows exceed the CUDA grid", op, (long long)rows);
    return QFT_OK;
}

}  // namespace

extern "C" QFT_API int qft_cuda_int8_blocks_row_sumsq(int32_t device, int64_t codes, int64_t scales, int64_t rows, int64_t cols,
                                                      int64_t block, int64_t out) {
    if (rows == 0) return QFT_OK;
    if (int st = check_rows("qft_int8_blocks_row_sumsq", rows)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int8_blocks_row_sumsq_kernel<<<static_cast<unsigned>(rows), kThreads, 0, qft::stream()>>>(
        qft::ptr<const int8_t>(codes), qft::ptr<const float>(scales), cols, block, qft::ptr<double>(out));
    QFT_LAUNCH_CHECK("int8_blocks_row_sumsq_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_f32_row_sumsq(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t out) {
    if (rows == 0) return QFT_OK;
    if (int st = check_rows("qft_f32_row_sumsq", rows)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    f32_row_sumsq_kernel<<<static_cast<unsigned>(rows), kThreads, 0, qft::stream()>>>(qft::ptr<const float>(x), cols,
                                                                                       qft::ptr<double>(out));
    QFT_LAUNCH_CHECK("f32_row_sumsq_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_int8_blocks_quantize_stochastic(int32_t device, int64_t x, int64_t rows, int64_t cols,
                                                                int64_t block, int64_t seed, int64_t step, int64_t tensor,
                                                                int64_t row0, int64_t codes, int64_t scales) {
    const int64_t nb = qft::div_up(cols, block), grid = rows * nb;
    if (grid == 0) return QFT_OK;
    if (int st = check_rows("qft_int8_blocks_quantize_stochastic", grid)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const uint64_t stream = qft::rng_stream(static_cast<uint64_t>(seed), static_cast<uint64_t>(step), static_cast<uint64_t>(tensor));
    int8_blocks_quantize_stochastic_kernel<<<static_cast<unsigned>(grid), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(x), cols, block, nb, stream, row0, qft::ptr<int8_t>(codes), qft::ptr<float>(scales));
    QFT_LAUNCH_CHECK("int8_blocks_quantize_stochastic_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_f32_scale(int32_t device, int64_t x, int64_t n, int64_t alpha) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    f32_scale_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(qft::ptr<float>(x), n, qft::ptr<const float>(alpha));
    QFT_LAUNCH_CHECK("f32_scale_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_lion_fp32_scaled_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t n, float lr,
                                                      float beta1, float beta2, float weight_decay, int64_t grad_scale) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const qft::LionConsts k = qft::lion_consts(lr, beta1, beta2, weight_decay);
    lion_fp32_scaled_kernel<<<qft::grid_1d(n, kThreads), kThreads, 0, qft::stream()>>>(
        qft::ptr<float>(w), qft::ptr<const float>(g), qft::ptr<float>(m), n, k, qft::ptr<const float>(grad_scale));
    QFT_LAUNCH_CHECK("lion_fp32_scaled_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_clip_factors(int32_t device, int64_t row_sums, const int64_t* rows, int64_t n, double clip_norm,
                                             int32_t per_tensor, int64_t state, int64_t factors) {
    if (n == 0) return QFT_OK;
    ClipRows r{};
    for (int64_t i = 0; i < n; ++i) r.n[i] = rows[i];
    QFT_CUDA_CHECK(cudaSetDevice(device));
    clip_factors_kernel<<<1, QFT_CLIP_MAX_TENSORS, 0, qft::stream()>>>(qft::ptr<const double>(row_sums), r, static_cast<int>(n), clip_norm,
                                                                        per_tensor, qft::ptr<int64_t>(state), qft::ptr<float>(factors));
    QFT_LAUNCH_CHECK("clip_factors_kernel");
    return QFT_OK;
}
