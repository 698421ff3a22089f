// PEQA b-bit weights on the GPU, the backward ops and dequantization (the forward matmul is in
// peqa_matmul.cu); the CPU references are the *_ref loops of native/cpu/peqa.cpp.
// Dequantize-in-the-matmul: the packed codes are decoded (s * (q - z)) while a weight tile is staged
// in shared memory, so the fp32 weight never exists in global memory. fp32 CUDA-core tiles
// (64 x 64 outputs per block, 4 x 4 per thread, K step 32).
//   backward input   dx[t,c] += sum_r dy[t,r] What[r,c]         tiles over (cols, tokens)
//   scale gradient   ds[r,g] += sum_t dy[t,r] sum_{c in g} x[t,c] (q[r,c] - z[r,g])
//                    one block per (64 rows, group): P = x_g u_gᵀ per 64-token tile, folded with dy at once.
#include <algorithm>

#include "../common/peqa_layout.h"
#include "check.cuh"
#include "qft4j/peqa.h"

namespace {

using qft::PeqaLayout;

constexpr int kTile = 64;     // tokens x outputs per block
constexpr int kStep = 32;     // reduction step staged in shared memory
constexpr int kThreads = 256; // 16 x 16 threads, 4 x 4 outputs each

// What[r,c] (or q - z when scales is null); 0 outside the matrix. Column arithmetic in 32 bits (cols < 2^31,
// checked at the entry points): 64-bit division would cost more than the FMAs the weight feeds.
__device__ __forceinline__ float weight_at(const uint32_t* codes, const float* scales, const uint8_t* zeros,
                                           const PeqaLayout& l, int64_t r, int64_t c) {
    if (r >= l.rows || c >= l.cols) return 0.0f;
    const uint32_t c32 = static_cast<uint32_t>(c), cpw = static_cast<uint32_t>(l.cpw);
    const int64_t gi = r * l.groups + c32 / static_cast<uint32_t>(l.group);
    const uint32_t q = (codes[r * l.words + c32 / cpw] >> (l.bits * (c32 % cpw))) & l.mask;
    float u = static_cast<float>(q) - static_cast<float>(zeros[gi]);
    return scales ? scales[gi] * u : u;
}

// a: (tokens, lda) row-major; stages a[t0 .. t0+64, k0 .. k0+32) transposed into as[k][t], 0 outside [.., k_end).
__device__ __forceinline__ void load_a(const float* a, int64_t lda, int64_t tokens, int64_t t0, int64_t k0, int64_t k_end,
                                       float (*as)[kTile + 4]) {
    for (int i = threadIdx.x; i < kTile * kStep; i += kThreads) {
        int m = i / kStep, k = i % kStep;
        int64_t t = t0 + m, c = k0 + k;
        as[k][m] = (t < tokens && c < k_end) ? a[t * lda + c] : 0.0f;
    }
}

// acc[i][j] += sum_k as[k][ty*4+i] * bs[k][tx*4+j]
__device__ __forceinline__ void tile_fma(const float (*as)[kTile + 4], const float (*bs)[kTile + 4], float (&acc)[4][4]) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll 8
    for (int k = 0; k < kStep; ++k) {
        float av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) av[i] = as[k][ty * 4 + i], bv[i] = bs[k][tx * 4 + i];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
}

// dx += dy What; block (cols c0.., tokens t0..), reduction over rows.
__global__ void __launch_bounds__(kThreads) backward_input_kernel(const float* __restrict__ dy, int64_t tokens,
                                                                  const uint32_t* __restrict__ codes,
                                                                  const float* __restrict__ scales,
                                                                  const uint8_t* __restrict__ zeros, PeqaLayout l,
                                                                  float* __restrict__ dx) {
    __shared__ float as[kStep][kTile + 4], bs[kStep][kTile + 4];
    const int64_t c0 = static_cast<int64_t>(blockIdx.x) * kTile, t0 = static_cast<int64_t>(blockIdx.y) * kTile;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < l.rows; k0 += kStep) {
        load_a(dy, l.rows, tokens, t0, k0, l.rows, as);
        for (int i = threadIdx.x; i < kTile * kStep; i += kThreads) {
            int k = i / kTile, n = i % kTile;
            bs[k][n] = weight_at(codes, scales, zeros, l, k0 + k, c0 + n);
        }
        __syncthreads();
        tile_fma(as, bs, acc);
        __syncthreads();
    }
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            int64_t t = t0 + ty * 4 + i, c = c0 + tx * 4 + j;
            if (t < tokens && c < l.cols) dx[t * l.cols + c] += acc[i][j];
        }
}

// ds[r, g] += sum_t dy[t,r] P[t,r], P = x[:, group g] u[r, group g]ᵀ; block (rows r0.., group g).
__global__ void __launch_bounds__(kThreads) scale_grad_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                                              int64_t tokens, const uint32_t* __restrict__ codes,
                                                              const uint8_t* __restrict__ zeros, PeqaLayout l,
                                                              float* __restrict__ ds) {
    __shared__ float as[kStep][kTile + 4], bs[kStep][kTile + 4];
    __shared__ float part[16][kTile];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kTile, g = blockIdx.y;
    const int64_t c_begin = g * l.group, c_end = min(l.cols, c_begin + l.group);
    float dsum[4] = {};
    for (int64_t t0 = 0; t0 < tokens; t0 += kTile) {
        float acc[4][4] = {};
        for (int64_t k0 = c_begin; k0 < c_end; k0 += kStep) {
            load_a(x, l.cols, tokens, t0, k0, c_end, as);
            for (int i = threadIdx.x; i < kTile * kStep; i += kThreads) {
                int n = i / kStep, k = i % kStep;
                bs[k][n] = k0 + k < c_end ? weight_at(codes, nullptr, zeros, l, r0 + n, k0 + k) : 0.0f;
            }
            __syncthreads();
            tile_fma(as, bs, acc);
            __syncthreads();
        }
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
                int64_t t = t0 + ty * 4 + i, r = r0 + tx * 4 + j;
                if (t < tokens && r < l.rows) dsum[j] += dy[t * l.rows + r] * acc[i][j];
            }
    }
    for (int j = 0; j < 4; ++j) part[ty][tx * 4 + j] = dsum[j];
    __syncthreads();
    if (threadIdx.x < kTile) {
        int64_t r = r0 + threadIdx.x;
        float s = 0.0f;
        for (int i = 0; i < 16; ++i) s += part[i][threadIdx.x];
        if (r < l.rows) ds[r * l.groups + g] += s;
    }
}

__global__ void dequantize_kernel(const uint32_t* __restrict__ codes, const float* __restrict__ scales,
                                  const uint8_t* __restrict__ zeros, PeqaLayout l, float* __restrict__ w) {
    const int64_t n = l.rows * l.cols;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x)
        w[i] = weight_at(codes, scales, zeros, l, i / l.cols, i % l.cols);
}

int grid_limit(const char* fn, int64_t x, int64_t y, int64_t cols) {
    if (cols > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: %lld columns exceed the kernels' 32-bit column index", fn, (long long)cols);
    if (x > 0x7fffffffLL || y > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: grid (%lld, %lld) exceeds the CUDA limits", fn, (long long)x, (long long)y);
    return QFT_OK;
}

}  // namespace

using qft::ptr;

extern "C" QFT_API int qft_cuda_peqa_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t zeros, int64_t rows,
                                                int64_t cols, int32_t bits, int64_t group_size, int64_t w) {
    if (rows == 0 || cols == 0) return QFT_OK;
    PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
    if (int st = grid_limit("qft_peqa_dequantize", 1, 1, cols)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int64_t blocks = std::min<int64_t>(qft::ceil_div(rows * cols, kThreads), 1 << 16);
    dequantize_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, qft::stream()>>>(
        ptr<uint32_t>(codes), ptr<float>(scales), ptr<uint8_t>(zeros), l, ptr<float>(w));
    QFT_LAUNCH_CHECK("dequantize_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_peqa_matmul_backward_input(int32_t device, int64_t dy, int64_t tokens, int64_t codes,
                                                           int64_t scales, int64_t zeros, int64_t rows, int64_t cols,
                                                           int32_t bits, int64_t group_size, int64_t dx) {
    if (cols == 0 || tokens == 0) return QFT_OK;
    PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int64_t gx = qft::ceil_div(cols, kTile), gy = qft::ceil_div(tokens, kTile);
    if (int st = grid_limit("qft_peqa_matmul_backward_input", gx, gy, cols)) return st;
    backward_input_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), kThreads, 0, qft::stream()>>>(
        ptr<float>(dy), tokens, ptr<uint32_t>(codes), ptr<float>(scales), ptr<uint8_t>(zeros), l, ptr<float>(dx));
    QFT_LAUNCH_CHECK("backward_input_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_peqa_scale_grad(int32_t device, int64_t dy, int64_t x, int64_t tokens, int64_t codes,
                                                int64_t zeros, int64_t rows, int64_t cols, int32_t bits, int64_t group_size,
                                                int64_t dscales) {
    if (rows == 0 || cols == 0 || tokens == 0) return QFT_OK;
    PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int64_t gx = qft::ceil_div(rows, kTile);
    if (int st = grid_limit("qft_peqa_scale_grad", gx, l.groups, cols)) return st;
    scale_grad_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(l.groups)), kThreads, 0, qft::stream()>>>(
        ptr<float>(dy), ptr<float>(x), tokens, ptr<uint32_t>(codes), ptr<uint8_t>(zeros), l, ptr<float>(dscales));
    QFT_LAUNCH_CHECK("scale_grad_kernel");
    return QFT_OK;
}
