// Hybrid dense/sparse quantization on the GPU (QFT, arXiv 2310.07147, sec. 3.1): outlier selection by radix
// select, CSR compaction in column order and per-row absmax INT8 codes, all on the device. Only per-row counts
// (a few int32 per row) and 256-bin histograms cross to the host. Bit-identical to hybrid_quantize_ref
// (native/cpu/hybrid_weight.cpp): the same outliers (the nnz largest |w|, ties by lower flat index), the same
// scales (absmax_scale) and codes (quantize_nearest with absmax_inv_scale), from qft_math.h.
//
// Magnitude order: for finite floats, the bits of |x| (sign cleared) order as unsigned integers exactly as |x|
// does, and equal bits mean equal |x| (+0 and -0 both give 0). A radix select over those 31-bit keys, 8 bits
// per pass, finds the key t of the k-th largest magnitude and how many of the keys equal to t must be taken.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/qft_math.h"
#include "check.cuh"
#include "reduce.cuh"

namespace {

constexpr int kThreads = 256;
constexpr uint32_t kNothing = 0xffffffffu;  // threshold key that no finite value reaches: select none

__device__ __forceinline__ uint32_t mag_key(float x) { return __float_as_uint(x) & 0x7fffffffu; }

// Exclusive prefix sum of v over the block, in thread order; *total gets the block's sum. sh: 32 ints.
__device__ __forceinline__ int block_exclusive_scan(int v, int* sh, int* total) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    int incl = v;
    for (int o = 1; o < 32; o <<= 1) {
        const int n = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += n;
    }
    __syncthreads();
    if (lane == 31) sh[warp] = incl;
    __syncthreads();
    int before = 0, sum = 0;
    for (int w = 0; w < warps; ++w) {
        if (w < warp) before += sh[w];
        sum += sh[w];
    }
    *total = sum;
    return before + incl - v;
}

// First flat index of a non-finite value, by atomicMin into *first (preset to INT32_MAX).
__global__ void first_non_finite_kernel(const float* __restrict__ w, int64_t n, int* first) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        if (!qft::finite(w[i])) atomicMin(first, static_cast<int>(i));
}

// One pass of the global radix select: histogram of key bits [shift, shift+8) over the keys whose higher
// bits equal prefix (under mask).
__global__ void digit_histogram_kernel(const float* __restrict__ w, int64_t n, uint32_t mask, uint32_t prefix, int shift,
                                       unsigned* __restrict__ hist) {
    __shared__ unsigned sh[256];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) sh[i] = 0;
    __syncthreads();
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const uint32_t k = mag_key(w[i]);
        if ((k & mask) == prefix) atomicAdd(&sh[(k >> shift) & 0xffu], 1u);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 256; i += blockDim.x)
        if (sh[i]) atomicAdd(&hist[i], sh[i]);
}

// Per-row radix select (per_row mode), one block per row: thr[r] = key of the row's k-th largest magnitude,
// quota[r] = how many keys equal to it the row takes (the first ones in column order). k == 0 selects none.
__global__ void row_select_kernel(const float* __restrict__ w, int64_t cols, int64_t k, uint32_t* __restrict__ thr,
                                  int* __restrict__ quota) {
    __shared__ unsigned hist[256];
    __shared__ uint32_t prefix_s;
    __shared__ int64_t remaining_s;
    const int64_t r = blockIdx.x;
    const float* row = w + r * cols;
    if (threadIdx.x == 0) prefix_s = 0, remaining_s = k;
    uint32_t mask = 0;
    for (int shift = 24; shift >= 0 && k > 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
        __syncthreads();
        const uint32_t prefix = prefix_s;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            const uint32_t key = mag_key(row[c]);
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int64_t rem = remaining_s;
            int d = 255;
            for (; d > 0 && rem > (int64_t)hist[d]; --d) rem -= hist[d];
            prefix_s = prefix | (static_cast<uint32_t>(d) << shift);
            remaining_s = rem;
        }
        mask |= 0xffu << shift;
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        thr[r] = k > 0 ? prefix_s : kNothing;
        quota[r] = k > 0 ? static_cast<int>(remaining_s) : 0;
    }
}

// Per row: how many keys exceed the row's threshold and how many equal it.
__global__ void row_count_kernel(const float* __restrict__ w, int64_t cols, const uint32_t* __restrict__ thr, int global_thr,
                                 int* __restrict__ gt, int* __restrict__ ties) {
    __shared__ int sh[32];
    const int64_t r = blockIdx.x;
    const uint32_t t = thr[global_thr ? 0 : r];
    int g = 0, e = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const uint32_t key = mag_key(w[r * cols + c]);
        g += key > t && t != kNothing;
        e += key == t;
    }
    int total = 0;
    block_exclusive_scan(g, sh, &total);
    if (threadIdx.x == 0) gt[r] = total;
    block_exclusive_scan(e, sh, &total);
    if (threadIdx.x == 0) ties[r] = total;
}

// One block per row: the row's outliers (keys above the threshold, and the first quota[r] keys equal to it) go
// to the CSR arrays at row_ptr[r] in column order; the rest become absmax INT8 codes (0 at outlier positions).
__global__ void row_quantize_kernel(const float* __restrict__ w, int64_t cols, const uint32_t* __restrict__ thr, int global_thr,
                                    const int* __restrict__ quota, const int32_t* __restrict__ row_ptr, int8_t* __restrict__ codes,
                                    float* __restrict__ scales, int32_t* __restrict__ col_idx, float* __restrict__ values) {
    __shared__ int sh[32];
    __shared__ float shf[32];
    const int64_t r = blockIdx.x;
    const float* row = w + r * cols;
    const uint32_t t = thr[global_thr ? 0 : r];
    const int q = quota[r];
    int ties_before = 0, out_before = 0;
    float absmax = 0.0f;
    // Chunks of blockDim columns in order; within a chunk, scans give each tie its rank and each outlier its slot.
    for (int64_t c0 = 0; c0 < cols; c0 += blockDim.x) {
        const int64_t c = c0 + threadIdx.x;
        const bool in = c < cols;
        const float x = in ? row[c] : 0.0f;
        const uint32_t key = mag_key(x);
        const int tie = in && key == t;
        int ties_here = 0, outs_here = 0;
        const int tie_rank = ties_before + block_exclusive_scan(tie, sh, &ties_here);
        const int outlier = in && ((key > t && t != kNothing) || (tie && tie_rank < q));
        const int slot = out_before + block_exclusive_scan(outlier, sh, &outs_here);
        if (outlier) {
            col_idx[row_ptr[r] + slot] = static_cast<int32_t>(c);
            values[row_ptr[r] + slot] = x;
        } else if (in) {
            absmax = fmaxf(absmax, qft::fabsf_(x));
        }
        ties_before += ties_here;
        out_before += outs_here;
    }
    absmax = qft::block_max(absmax, shf);
    if (threadIdx.x == 0) scales[r] = qft::absmax_scale(absmax);
    const float inv = qft::absmax_inv_scale(absmax);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        codes[r * cols + c] = static_cast<int8_t>(qft::quantize_nearest(row[c], inv));
    __syncthreads();  // the codes of this row are written before the outlier positions are cleared
    for (int32_t j = row_ptr[r] + threadIdx.x; j < row_ptr[r + 1]; j += blockDim.x) codes[r * cols + col_idx[j]] = 0;
}

// Global mode: the key of the k-th largest magnitude over all n values and how many keys equal to it are taken.
int global_select(int device, const float* w, int64_t n, int64_t k, unsigned* hist_dev, uint32_t* thr, int64_t* ties_taken) {
    if (k == 0) {
        *thr = kNothing, *ties_taken = 0;
        return QFT_OK;
    }
    unsigned blocks = 0;
    if (int rc = qft::grid_per_sm(device, kThreads, n, &blocks)) return rc;
    uint32_t prefix = 0, mask = 0;
    int64_t remaining = k;
    unsigned hist[256];
    for (int shift = 24; shift >= 0; shift -= 8) {
        QFT_CUDA_CHECK(cudaMemsetAsync(hist_dev, 0, sizeof hist, qft::stream()));
        digit_histogram_kernel<<<blocks, kThreads, 0, qft::stream()>>>(w, n, mask, prefix, shift, hist_dev);
        QFT_LAUNCH_CHECK("digit_histogram_kernel");
        QFT_CUDA_CHECK(cudaMemcpyAsync(hist, hist_dev, sizeof hist, cudaMemcpyDeviceToHost, qft::stream()));
        QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
        int d = 255;
        for (; d > 0 && remaining > (int64_t)hist[d]; --d) remaining -= hist[d];
        prefix |= static_cast<uint32_t>(d) << shift;
        mask |= 0xffu << shift;
    }
    *thr = prefix, *ties_taken = remaining;
    return QFT_OK;
}

}  // namespace

extern "C" QFT_API int qft_cuda_hybrid_quantize(int32_t device, int64_t w, int64_t rows, int64_t cols, double fraction,
                                                int32_t per_row, int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx,
                                                int64_t values, int64_t nnz) {
    const char* fn = "qft_hybrid_quantize";
    if (rows > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: %lld rows exceed the CUDA grid", fn, (long long)rows);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const int64_t n = rows * cols;  // the caller checked n <= INT32_MAX
    const float* wp = qft::ptr<const float>(w);
    // Scratch: thr (rows u32), quota, gt, ties (rows i32 each), hist (256 u32), first bad index (1 i32).
    const int64_t R = std::max<int64_t>(rows, 1);
    qft::StreamScratch scratch;
    QFT_CUDA_CHECK(cudaMallocAsync(&scratch.p, size_t(4 * R * 4 + 256 * 4 + 4), qft::stream()));
    uint32_t* thr = static_cast<uint32_t*>(scratch.p);
    int* quota = reinterpret_cast<int*>(thr + R);
    int* gt = quota + R;
    int* ties = gt + R;
    unsigned* hist = reinterpret_cast<unsigned*>(ties + R);
    int* first_bad = reinterpret_cast<int*>(hist + 256);

    if (n > 0) {
        const int none = INT32_MAX;
        unsigned blocks = 0;
        if (int rc = qft::grid_per_sm(device, kThreads, n, &blocks)) return rc;
        QFT_CUDA_CHECK(cudaMemcpyAsync(first_bad, &none, sizeof none, cudaMemcpyHostToDevice, qft::stream()));
        first_non_finite_kernel<<<blocks, kThreads, 0, qft::stream()>>>(wp, n, first_bad);
        QFT_LAUNCH_CHECK("first_non_finite_kernel");
        int bad = none;
        QFT_CUDA_CHECK(cudaMemcpyAsync(&bad, first_bad, sizeof bad, cudaMemcpyDeviceToHost, qft::stream()));
        QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
        if (bad != none)
            return qft_set_error(QFT_EINVAL, "%s: w (%lld, %lld) holds NaN/Inf at row %lld, col %lld", fn, (long long)rows,
                                 (long long)cols, (long long)(bad / cols), (long long)(bad % cols));
    }
    std::vector<int32_t> ptr(rows + 1, 0);
    if (n > 0) {
        const unsigned grid = static_cast<unsigned>(rows);
        std::vector<int> q(rows, 0), g(rows), e(rows);
        int64_t global_ties = 0;
        if (per_row) {
            row_select_kernel<<<grid, kThreads, 0, qft::stream()>>>(wp, cols, nnz / rows, thr, quota);
            QFT_LAUNCH_CHECK("row_select_kernel");
        } else {
            uint32_t t = 0;
            if (int rc = global_select(device, wp, n, nnz, hist, &t, &global_ties)) return rc;
            QFT_CUDA_CHECK(cudaMemcpyAsync(thr, &t, sizeof t, cudaMemcpyHostToDevice, qft::stream()));
        }
        row_count_kernel<<<grid, kThreads, 0, qft::stream()>>>(wp, cols, thr, per_row ? 0 : 1, gt, ties);
        QFT_LAUNCH_CHECK("row_count_kernel");
        QFT_CUDA_CHECK(cudaMemcpyAsync(g.data(), gt, rows * sizeof(int), cudaMemcpyDeviceToHost, qft::stream()));
        QFT_CUDA_CHECK(cudaMemcpyAsync(e.data(), ties, rows * sizeof(int), cudaMemcpyDeviceToHost, qft::stream()));
        if (per_row) QFT_CUDA_CHECK(cudaMemcpyAsync(q.data(), quota, rows * sizeof(int), cudaMemcpyDeviceToHost, qft::stream()));
        QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
        // Global mode takes the ties in flat index order: row by row, as many as are still needed.
        for (int64_t r = 0; r < rows; ++r) {
            if (!per_row) {
                q[r] = static_cast<int>(std::min<int64_t>(e[r], global_ties));
                global_ties -= q[r];
            }
            ptr[r + 1] = ptr[r] + g[r] + q[r];
        }
        if (ptr[rows] != nnz)
            return qft_set_error(QFT_EINTERNAL, "%s: selected %d outliers of (%lld, %lld), expected %lld", fn, ptr[rows],
                                 (long long)rows, (long long)cols, (long long)nnz);
        if (!per_row) QFT_CUDA_CHECK(cudaMemcpyAsync(quota, q.data(), rows * sizeof(int), cudaMemcpyHostToDevice, qft::stream()));
    }
    QFT_CUDA_CHECK(cudaMemcpyAsync(qft::ptr<int32_t>(row_ptr), ptr.data(), (rows + 1) * sizeof(int32_t), cudaMemcpyHostToDevice,
                                   qft::stream()));
    if (n > 0) {
        row_quantize_kernel<<<static_cast<unsigned>(rows), kThreads, 0, qft::stream()>>>(
            wp, cols, thr, per_row ? 0 : 1, quota, qft::ptr<const int32_t>(row_ptr), qft::ptr<int8_t>(codes),
            qft::ptr<float>(scales), qft::ptr<int32_t>(col_idx), qft::ptr<float>(values));
        QFT_LAUNCH_CHECK("row_quantize_kernel");
    } else if (rows > 0) {
        // (rows, 0): every scale is absmax_scale(0) = 1, as on the CPU.
        std::vector<float> ones(rows, 1.0f);
        QFT_CUDA_CHECK(cudaMemcpyAsync(qft::ptr<float>(scales), ones.data(), rows * sizeof(float), cudaMemcpyHostToDevice,
                                       qft::stream()));
    }
    // The host vectors above are sources of asynchronous copies: wait before they go out of scope.
    QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    return QFT_OK;
}
