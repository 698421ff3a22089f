// Hybrid dense/sparse weights on the GPU: dequantization and the sparse half of the hybrid matmul.
// CPU references: native/cpu/hybrid_weight.cpp (outlier selection runs on the host, see hybrid_weight.h).
#include "../common/qft_math.h"
#include "check.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kTokenTile = 4;  // tokens whose activations a block keeps in shared memory

// One block per row: the dense row, then the row's outliers over it (codes are 0 there).
__global__ void hybrid_dequantize_kernel(int64_t cols, const int8_t* __restrict__ codes, const float* __restrict__ scales,
                                         const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col_idx,
                                         const float* __restrict__ values, float* __restrict__ out) {
    const int64_t r = blockIdx.x;
    const float s = scales[r];
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        out[r * cols + c] = qft::fmul(static_cast<float>(codes[r * cols + c]), s);
    __syncthreads();
    for (int32_t j = row_ptr[r] + threadIdx.x; j < row_ptr[r + 1]; j += blockDim.x) out[r * cols + col_idx[j]] = values[j];
}

// y[t, r] += sum_j values[j] * x[t, col_idx[j]] over row r's outliers. A block stages kTokenTile rows of
// x in shared memory and walks a range of weight rows with one warp per row (lanes over the outliers).
__global__ void hybrid_sparse_add_kernel(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr,
                                         const int32_t* __restrict__ col_idx, const float* __restrict__ values,
                                         const float* __restrict__ x, int64_t tokens, float* __restrict__ y,
                                         int64_t rows_per_block) {
    extern __shared__ float xs[];  // (kTokenTile, cols)
    const int64_t t0 = blockIdx.x * (int64_t)kTokenTile;
    const int nt = tokens - t0 < kTokenTile ? static_cast<int>(tokens - t0) : kTokenTile;
    for (int64_t i = threadIdx.x; i < nt * cols; i += blockDim.x) xs[i] = x[t0 * cols + i];
    __syncthreads();
    const int64_t r0 = blockIdx.y * rows_per_block, r1 = min(rows, r0 + rows_per_block);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int64_t r = r0 + warp; r < r1; r += warps) {
        float acc[kTokenTile] = {};
        for (int32_t j = row_ptr[r] + lane; j < row_ptr[r + 1]; j += 32) {
            const float v = values[j];
            const int32_t c = col_idx[j];
            for (int t = 0; t < nt; ++t) acc[t] += v * xs[t * cols + c];
        }
        for (int t = 0; t < nt; ++t) {
            for (int o = 16; o > 0; o >>= 1) acc[t] += __shfl_xor_sync(0xffffffffu, acc[t], o);
            if (lane == 0) y[(t0 + t) * rows + r] += acc[t];
        }
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_hybrid_dequantize(int32_t device, int64_t rows, int64_t cols, int64_t codes, int64_t scales,
                                                  int64_t row_ptr, int64_t col_idx, int64_t values, int64_t out) {
    if (rows == 0) return QFT_OK;
    if (rows > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_dequantize: %lld rows exceed the CUDA grid", (long long)rows);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    hybrid_dequantize_kernel<<<static_cast<unsigned>(rows), kThreads, 0, qft::stream()>>>(
        cols, qft::ptr<const int8_t>(codes), qft::ptr<const float>(scales), qft::ptr<const int32_t>(row_ptr),
        qft::ptr<const int32_t>(col_idx), qft::ptr<const float>(values), qft::ptr<float>(out));
    QFT_LAUNCH_CHECK("hybrid_dequantize_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_hybrid_sparse_add(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr,
                                                  int64_t col_idx, int64_t values, int64_t x, int64_t tokens, int64_t y) {
    if (rows == 0 || tokens == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int sms = 0, smem_max = 0;
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    const int64_t smem = kTokenTile * cols * (int64_t)sizeof(float);
    if (smem > smem_max)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_sparse_add: cols %lld need %lld bytes of shared memory (max %d)",
                             (long long)cols, (long long)smem, smem_max);
    QFT_CUDA_CHECK(cudaFuncSetAttribute(hybrid_sparse_add_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    // Enough blocks to fill the GPU twice: split the rows only when there are few token tiles.
    const int64_t tiles = qft::ceil_div(tokens, kTokenTile);
    const int64_t splits = std::max<int64_t>(1, std::min<int64_t>(rows, qft::ceil_div(2 * sms, tiles)));
    const int64_t rows_per_block = qft::ceil_div(rows, splits);
    if (tiles > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_sparse_add: %lld tokens exceed the CUDA grid", (long long)tokens);
    dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(qft::ceil_div(rows, rows_per_block)));
    hybrid_sparse_add_kernel<<<grid, kThreads, smem, qft::stream()>>>(
        rows, cols, qft::ptr<const int32_t>(row_ptr), qft::ptr<const int32_t>(col_idx), qft::ptr<const float>(values),
        qft::ptr<const float>(x), tokens, qft::ptr<float>(y), rows_per_block);
    QFT_LAUNCH_CHECK("hybrid_sparse_add_kernel");
    return QFT_OK;
}
