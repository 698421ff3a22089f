// Per-row absmax INT8 quantization on the GPU (quantize_rows_cuda); the CPU reference is
// quantize_rows_ref in native/cpu/quantize_rows.cpp and must agree bit for bit: same IEEE division,
// same round-half-even (__float2int_rn). One block per row: a block-wide absmax, then the codes.
#include "check.cuh"
#include "reduce.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void quantize_rows_kernel(const float* __restrict__ x, int64_t cols, int8_t* __restrict__ q,
                                     float* __restrict__ scales, int* __restrict__ bad_rows) {
    const int64_t r = blockIdx.x;
    const float* xr = x + r * cols;
    int8_t* qr = q + r * cols;
    float absmax = 0.0f;
    int finite = 1;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = xr[c];
        finite &= isfinite(v);
        absmax = fmaxf(absmax, fabsf(v));
    }
    __shared__ float s_max[32];
    __shared__ int s_finite[32];
    absmax = qft::block_max(absmax, s_max);
    finite = qft::block_all(finite, s_finite);
    if (!finite) {
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) qr[c] = 0;
        if (threadIdx.x == 0) {
            scales[r] = __int_as_float(0x7fc00000);
            atomicAdd(bad_rows, 1);
        }
        return;
    }
    const float scale = absmax > 0.0f ? absmax / 127.0f : 1.0f;
    if (threadIdx.x == 0) scales[r] = scale;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        int v = __float2int_rn(xr[c] / scale);
        qr[c] = static_cast<int8_t>(min(127, max(-127, v)));
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_quantize_rows_absmax(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t q,
                                                     int64_t scales) {
    if (rows == 0) return QFT_OK;
    if (rows > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_quantize_rows_absmax: %lld rows exceed the CUDA grid limit", (long long)rows);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int* bad = nullptr;
    QFT_CUDA_CHECK(cudaMallocAsync(&bad, sizeof(int), qft::stream()));
    QFT_CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(int), qft::stream()));
    quantize_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(x), cols, qft::ptr<int8_t>(q), qft::ptr<float>(scales), bad);
    QFT_LAUNCH_CHECK("quantize_rows_kernel");
    int bad_rows = 0;
    QFT_CUDA_CHECK(cudaMemcpyAsync(&bad_rows, bad, sizeof(int), cudaMemcpyDeviceToHost, qft::stream()));
    QFT_CUDA_CHECK(cudaFreeAsync(bad, qft::stream()));
    QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    if (bad_rows > 0)
        return qft_set_error(QFT_EINVAL, "qft_quantize_rows_absmax: %d of %lld rows of x (%lld, %lld) hold NaN/Inf", bad_rows,
                             (long long)rows, (long long)rows, (long long)cols);
    return QFT_OK;
}
