// Operand preparation for the INT8 matmul on the GPU (qft4j/quantize_operands.h). CPU references:
// quantize_rows_ex_ref / quantize_cols_ref in native/cpu/quantize_operands.cpp; the same IEEE division and
// round-half-even (__float2int_rn) make the codes and scales agree bit for bit.
#include <cuda_bf16.h>

#include "check.cuh"
#include "reduce.cuh"
#include "qft4j/quantize_operands.h"

namespace {

constexpr int kThreads = 256, kTile = 32;

__device__ __forceinline__ float load(int dtype, const void* x, int64_t i) {
    return dtype == QFT_IN_F32 ? static_cast<const float*>(x)[i] : __bfloat162float(static_cast<const __nv_bfloat16*>(x)[i]);
}

__device__ __forceinline__ int8_t code(float v, float scale) {
    return static_cast<int8_t>(min(127, max(-127, __float2int_rn(v / scale))));
}

// One block per row: block-wide absmax of x * col_mul, then the codes.
__global__ void rows_kernel(int dtype, const void* __restrict__ x, int64_t cols, const float* __restrict__ col_mul,
                            int8_t* __restrict__ q, float* __restrict__ scales, int* __restrict__ bad) {
    const int64_t r = blockIdx.x;
    float absmax = 0.0f;
    int finite = 1;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = __fmul_rn(load(dtype, x, r * cols + c), col_mul ? col_mul[c] : 1.0f);
        finite &= isfinite(v);
        absmax = fmaxf(absmax, fabsf(v));
    }
    __shared__ float s_max[32];
    __shared__ int s_finite[32];
    absmax = qft::block_max(absmax, s_max);
    finite = qft::block_all(finite, s_finite);
    const float scale = !finite ? __int_as_float(0x7fc00000) : absmax > 0.0f ? absmax / 127.0f : 1.0f;
    if (threadIdx.x == 0) {
        scales[r] = scale;
        if (!finite) atomicAdd(bad, 1);
    }
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        q[r * cols + c] = finite ? code(__fmul_rn(load(dtype, x, r * cols + c), col_mul ? col_mul[c] : 1.0f), scale) : 0;
}

// Column absmax: block (32, 8) covers 32 columns and strides over all rows.
__global__ void col_scales_kernel(int dtype, const void* __restrict__ x, int64_t rows, int64_t cols, float* __restrict__ scales,
                                  int* __restrict__ bad) {
    const int64_t c = int64_t(blockIdx.x) * kTile + threadIdx.x;
    float absmax = 0.0f;
    int finite = 1;
    if (c < cols)
        for (int64_t r = threadIdx.y; r < rows; r += blockDim.y) {
            float v = load(dtype, x, r * cols + c);
            finite &= isfinite(v);
            absmax = fmaxf(absmax, fabsf(v));
        }
    __shared__ float s_max[8][kTile];
    __shared__ int s_finite[8][kTile];
    s_max[threadIdx.y][threadIdx.x] = absmax;
    s_finite[threadIdx.y][threadIdx.x] = finite;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        for (int i = 1; i < 8; ++i) {
            absmax = fmaxf(absmax, s_max[i][threadIdx.x]);
            finite &= s_finite[i][threadIdx.x];
        }
        scales[c] = !finite ? __int_as_float(0x7fc00000) : absmax > 0.0f ? absmax / 127.0f : 1.0f;
        if (!finite) atomicAdd(bad, 1);
    }
}

// 32 x 32 tiles through shared memory, so that both the read of x and the transposed write are coalesced.
// With scales (quantize mode) each element becomes its code; without (plain int8 transpose) it is copied.
template <bool kQuantize>
__global__ void transpose_kernel(int dtype, const void* __restrict__ x, int64_t rows, int64_t cols, const float* __restrict__ scales,
                                 int8_t* __restrict__ xt) {
    __shared__ int8_t tile[kTile][kTile + 4];
    const int64_t r0 = int64_t(blockIdx.y) * kTile, c0 = int64_t(blockIdx.x) * kTile;
    for (int i = threadIdx.y; i < kTile; i += blockDim.y) {
        const int64_t r = r0 + i, c = c0 + threadIdx.x;
        if (r < rows && c < cols) {
            int8_t v;
            if constexpr (kQuantize) {
                const float s = scales[c];
                v = isnan(s) ? int8_t(0) : code(load(dtype, x, r * cols + c), s);
            } else {
                v = static_cast<const int8_t*>(x)[r * cols + c];
            }
            tile[threadIdx.x][i] = v;
        }
    }
    __syncthreads();
    for (int i = threadIdx.y; i < kTile; i += blockDim.y) {
        const int64_t c = c0 + i, r = r0 + threadIdx.x;
        if (r < rows && c < cols) xt[c * rows + r] = tile[i][threadIdx.x];
    }
}

int check_grid(const char* fn, int64_t rows, int64_t cols) {
    if (rows > 0x7fffffffLL || qft::ceil_div(rows, kTile) > 65535 || qft::ceil_div(cols, kTile) > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: x (%lld, %lld) exceeds the CUDA grid limits", fn, (long long)rows, (long long)cols);
    return QFT_OK;
}

// The bad-vector counter: the caller's (bad_out, added to without a sync), or `own`, which finish() reads back.
int begin(int64_t bad_out, qft::BadCount& own, int** bad) {
    if (!bad_out)
        if (int st = own.init()) return st;
    *bad = bad_out ? qft::ptr<int>(bad_out) : own.ptr;
    return QFT_OK;
}

// With its own counter (no bad_out): reads it back (this also waits for the kernels) and reports it.
int finish(const char* fn, int64_t bad_out, qft::BadCount& own, const char* what, int64_t count, int64_t rows, int64_t cols) {
    if (bad_out) return QFT_OK;
    int n = 0;
    if (int st = own.read(&n)) return st;
    if (n > 0)
        return qft_set_error(QFT_EINVAL, "%s: %d of %lld %s of x (%lld, %lld) hold NaN/Inf", fn, n, (long long)count, what, (long long)rows,
                             (long long)cols);
    return QFT_OK;
}

}  // namespace

extern "C" QFT_API int qft_cuda_quantize_rows_absmax_ex(int32_t device, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols,
                                                        int64_t col_mul, int64_t q, int64_t scales, int64_t bad_out) {
    const char* fn = "qft_quantize_rows_absmax_ex";
    if (rows == 0) return QFT_OK;
    if (int st = check_grid(fn, rows, cols)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount own;
    int* bad = nullptr;
    if (int st = begin(bad_out, own, &bad)) return st;
    rows_kernel<<<unsigned(rows), kThreads, 0, qft::stream()>>>(x_dtype, qft::ptr<const void>(x), cols, qft::ptr<const float>(col_mul),
                                                                 qft::ptr<int8_t>(q), qft::ptr<float>(scales), bad);
    QFT_LAUNCH_CHECK("rows_kernel");
    return finish(fn, bad_out, own, "rows", rows, rows, cols);
}

extern "C" QFT_API int qft_cuda_quantize_cols_absmax(int32_t device, int32_t x_dtype, int64_t x, int64_t rows, int64_t cols, int64_t qt,
                                                     int64_t scales, int64_t bad_out) {
    const char* fn = "qft_quantize_cols_absmax";
    if (cols == 0) return QFT_OK;
    if (int st = check_grid(fn, rows, cols)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount own;
    int* bad = nullptr;
    if (int st = begin(bad_out, own, &bad)) return st;
    col_scales_kernel<<<unsigned(qft::ceil_div(cols, kTile)), dim3(kTile, 8), 0, qft::stream()>>>(x_dtype, qft::ptr<const void>(x), rows, cols,
                                                                                                  qft::ptr<float>(scales), bad);
    QFT_LAUNCH_CHECK("col_scales_kernel");
    if (rows > 0) {
        dim3 grid(unsigned(qft::ceil_div(cols, kTile)), unsigned(qft::ceil_div(rows, kTile)));
        transpose_kernel<true><<<grid, dim3(kTile, 8), 0, qft::stream()>>>(x_dtype, qft::ptr<const void>(x), rows, cols,
                                                                           qft::ptr<const float>(scales), qft::ptr<int8_t>(qt));
        QFT_LAUNCH_CHECK("transpose_kernel<quantize>");
    }
    return finish(fn, bad_out, own, "columns", cols, rows, cols);
}

extern "C" QFT_API int qft_cuda_transpose_i8(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t xt) {
    const char* fn = "qft_transpose_i8";
    if (rows == 0 || cols == 0) return QFT_OK;
    if (int st = check_grid(fn, rows, cols)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    dim3 grid(unsigned(qft::ceil_div(cols, kTile)), unsigned(qft::ceil_div(rows, kTile)));
    transpose_kernel<false><<<grid, dim3(kTile, 8), 0, qft::stream()>>>(QFT_IN_F32, qft::ptr<const void>(x), rows, cols, nullptr,
                                                                        qft::ptr<int8_t>(xt));
    QFT_LAUNCH_CHECK("transpose_kernel");
    return QFT_OK;
}
