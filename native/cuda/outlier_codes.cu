// qft_hybrid_outlier_codes on the GPU (hybrid_weight.h): the grid is zeroed with one memset, then one block per
// row finds its outliers' absmax (a max is exact in any order) and writes their codes with qft_math.h's rounding,
// the CPU reference's (native/cpu/outlier_codes.cpp) bit for bit. No host sync: a column outside the grid (a
// corrupt CSR, which the CPU path reports) is skipped rather than written out of bounds.
#include "../common/qft_math.h"
#include "check.cuh"
#include "reduce.cuh"

namespace {

constexpr int kThreads = 128;

__global__ void outlier_codes_kernel(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col_idx,
                                     const float* __restrict__ values, bool transpose, int8_t* __restrict__ codes, float* __restrict__ scales) {
    __shared__ float shf[32];
    __shared__ int shi[32];
    const int64_t r = blockIdx.x;
    const int32_t j0 = row_ptr[r], j1 = row_ptr[r + 1];
    float absmax = 0.0f;
    int ok = 1;
    for (int32_t j = j0 + threadIdx.x; j < j1; j += kThreads) {
        const float v = values[j];
        ok &= qft::finite(v);
        absmax = fmaxf(absmax, qft::fabsf_(v));
    }
    ok = qft::block_all(ok, shi);
    absmax = qft::block_max(absmax, shf);
    if (!ok) {
        if (threadIdx.x == 0) scales[r] = __int_as_float(0x7fc00000);
        return;
    }
    if (threadIdx.x == 0) scales[r] = absmax > 0.0f ? qft::absmax_scale(absmax) : 0.0f;
    const float inv = qft::absmax_inv_scale(absmax);
    for (int32_t j = j0 + threadIdx.x; j < j1; j += kThreads) {
        const int64_t c = col_idx[j];
        if (c < 0 || c >= cols) continue;
        codes[transpose ? c * rows + r : r * cols + c] = static_cast<int8_t>(qft::quantize_nearest(values[j], inv));
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_hybrid_outlier_codes(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                                                     int64_t values, int32_t transpose, int64_t codes, int64_t scales) {
    if (rows == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    QFT_CUDA_CHECK(cudaMemsetAsync(qft::ptr<void>(codes), 0, static_cast<size_t>(rows * cols), qft::stream()));
    outlier_codes_kernel<<<static_cast<unsigned>(rows), kThreads, 0, qft::stream()>>>(
        rows, cols, qft::ptr<const int32_t>(row_ptr), qft::ptr<const int32_t>(col_idx), qft::ptr<const float>(values), transpose != 0,
        qft::ptr<int8_t>(codes), qft::ptr<float>(scales));
    QFT_LAUNCH_CHECK("outlier_codes_kernel");
    return QFT_OK;
}
