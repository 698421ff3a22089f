// Hybrid dense/sparse weights on the GPU: dequantization and the sparse half of the hybrid matmul.
// CPU references: native/cpu/hybrid_weight.cpp (outlier selection runs on the host, see hybrid_weight.h).
#include <algorithm>
#include <climits>

#include "../common/qft_math.h"
#include "check.cuh"
#include "cp_async.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kFewTokens = 4;        // tokens whose activations the few-token sparse add keeps in shared memory
constexpr int64_t kTiledFrom = 17;   // token count from which the tiled sparse add runs

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

// Few tokens (decode): y[t, r] += sum_j values[j] * x[t, col_idx[j]] over row r's outliers. A block stages
// kFewTokens rows of x in shared memory and walks a range of weight rows with one warp per row (lanes
// over the outliers). With so few tokens the op reads the CSR arrays once per token tile and is bound by
// that, not by the gathers.
__global__ void sparse_add_few_tokens_kernel(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr,
                                             const int32_t* __restrict__ col_idx, const float* __restrict__ values,
                                             const float* __restrict__ x, int64_t tokens, float* __restrict__ y,
                                             int64_t rows_per_block) {
    extern __shared__ float xs[];  // (kFewTokens, cols)
    const int64_t t0 = blockIdx.x * (int64_t)kFewTokens;
    const int nt = tokens - t0 < kFewTokens ? static_cast<int>(tokens - t0) : kFewTokens;
    for (int64_t i = threadIdx.x; i < nt * cols; i += blockDim.x) xs[i] = x[t0 * cols + i];
    __syncthreads();
    const int64_t r0 = blockIdx.y * rows_per_block, r1 = min(rows, r0 + rows_per_block);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int64_t r = r0 + warp; r < r1; r += warps) {
        float acc[kFewTokens] = {};
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

// Many tokens (prefill, training). The op is a gather: every (outlier, token) pair is one FMA whose x
// operand sits at a data-dependent column, so its floor is the shared-memory port (32 floats per clock
// per SM against 128 FP32 FMAs), not the FMA units; see bench_lion_step.cu. This kernel is bound by
// instruction issue at ~10% of that floor (bench/results/sparse-add-peqa-h100.md): the per-outlier
// bookkeeping is amortised over only 2 tokens per lane.
// So that every shared load is conflict-free and carries useful data, a warp works on ONE outlier at a
// time for 64 tokens (lane l: tokens 2l, 2l+1, one 8-byte load of the transposed x tile); the outlier's
// (col, value) is one broadcast 8-byte shared load.
// Block: 64 tokens x (32 warps x rpw rows), rpw <= 16; warp w owns rows w, w + 32, ... and keeps their
// 64-token sums in registers (acc[16] float2) across the whole K loop, so y is written once, through
// shared memory, coalesced. x is staged in 256-column chunks (double-buffered, cp.async), transposed:
// xs[c][t] with a row stride of 66 floats (8-byte aligned; the transposing stores hit 32 distinct banks).
// Each row keeps a cursor into its CSR segment (col_idx ascends within a row, so a chunk's outliers are
// the next ones) and a window of its next kSpWin (col, value) pairs in shared memory, fetched by cp.async
// while the previous chunk finishes: a row visit waits on shared memory only, not on a global load
// (windows run out only on rows with more than kSpWin outliers in one chunk; those read on from global).
// Sums run in CSR order with separately rounded multiply and add, as hybrid_sparse_add_ref does: the
// result is bit-identical to the CPU (for one extra FP instruction per token pair over an FMA).
constexpr int kSpTokens = 64, kSpWarps = 32, kSpRowsPerWarp = 16, kSpCols = 256, kSpStride = kSpTokens + 2, kSpWin = 8;
constexpr int kSpThreads = kSpWarps * 32, kSpRowsMax = kSpWarps * kSpRowsPerWarp;
constexpr int kSpChunkFloats = kSpCols * kSpStride;  // one x chunk: (256 cols, 66) fp32
constexpr int kSpYStride = kSpRowsMax + 1;           // y staging: (64 tokens, 513) fp32, reuses the x buffers
static_assert(kSpTokens * kSpYStride <= 2 * kSpChunkFloats, "y staging must fit in the x buffers");
// x chunks, then the windows (rows, kSpWin) int2 {col, value bits}, then cursors and row ends (rows) int.
constexpr size_t kSpSmem = 2 * kSpChunkFloats * sizeof(float) + kSpRowsMax * kSpWin * sizeof(int2) + 2 * kSpRowsMax * sizeof(int);

// xs (256, 66) <- x[t0 .. t0+64, c0 .. c0+256) transposed, zeros outside x. Element u of the chunk: bits
// 0-3 and 5-8 the column, bit 4 and bits 9-13 the token, so a warp reads 2 tokens x 16 columns (64-byte
// segments) and writes banks (2 * column + token) % 32, all distinct.
__device__ __forceinline__ void stage_x_chunk(float* xs, const float* x, int64_t tokens, int64_t cols, int64_t t0,
                                              int64_t c0) {
    for (int u = threadIdx.x; u < kSpCols * kSpTokens; u += kSpThreads) {
        const int ci = (u & 15) | ((u >> 5) & 15) << 4, ti = ((u >> 4) & 1) | (u >> 9) << 1;
        const int64_t t = t0 + ti, c = c0 + ci;
        const bool ok = t < tokens && c < cols;
        qft::cp_async4(xs + ci * kSpStride + ti, ok ? x + t * cols + c : x, ok ? 4 : 0);
    }
}

// The windows of the calling warp's rows: win[i][q] <- (col_idx, values)[cur_s[i] + q] inside the row.
__device__ __forceinline__ void load_windows(int2* win, const int* cur_s, const int* end_s, const int32_t* col_idx,
                                             const float* values, int warp, int lane, int rpw) {
    for (int u = lane; u < rpw * kSpWin; u += 32) {
        const int i = warp + kSpWarps * (u / kSpWin), j = cur_s[i] + u % kSpWin;
        const bool ok = j < end_s[i];
        int* dst = reinterpret_cast<int*>(win + i * kSpWin + u % kSpWin);
        qft::cp_async4(dst, ok ? col_idx + j : col_idx, ok ? 4 : 0);
        qft::cp_async4(dst + 1, ok ? reinterpret_cast<const int*>(values) + j : col_idx, ok ? 4 : 0);
    }
}

__global__ void __launch_bounds__(kSpThreads, 1)
    sparse_add_tiled_kernel(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col_idx,
                            const float* __restrict__ values, const float* __restrict__ x, int64_t tokens,
                            float* __restrict__ y, int rpw) {
    extern __shared__ float smem[];
    float* xs = smem;                                                 // 2 chunks, then the y staging
    int2* win = reinterpret_cast<int2*>(smem + 2 * kSpChunkFloats);   // (rows of the block, kSpWin)
    int* cur_s = reinterpret_cast<int*>(win + kSpRowsMax * kSpWin);   // (rows of the block) next outlier
    int* end_s = cur_s + kSpRowsMax;                                  // (rows of the block) row_ptr[r + 1]
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, rpb = kSpWarps * rpw;
    const int64_t t0 = static_cast<int64_t>(blockIdx.x) * kSpTokens, r0 = static_cast<int64_t>(blockIdx.y) * rpb;
    if (lane < rpw) {  // each warp sets up its own rows
        const int i = warp + kSpWarps * lane;
        const int64_t r = r0 + i;
        cur_s[i] = r < rows ? row_ptr[r] : 0;
        end_s[i] = r < rows ? row_ptr[r + 1] : 0;
    }
    __syncwarp();
    float2 acc[kSpRowsPerWarp];
#pragma unroll
    for (int k = 0; k < kSpRowsPerWarp; ++k) acc[k] = make_float2(0.0f, 0.0f);

    const int chunks = static_cast<int>((cols + kSpCols - 1) / kSpCols);
    load_windows(win, cur_s, end_s, col_idx, values, warp, lane, rpw);
    stage_x_chunk(xs, x, tokens, cols, t0, 0);
    qft::cp_async_commit_group();
    for (int ch = 0; ch < chunks; ++ch) {
        // Groups in flight: x(ch) (committed a chunk ago), windows(ch) (end of the last chunk), x(ch + 1).
        if (ch + 1 < chunks) {
            stage_x_chunk(xs + ((ch + 1) & 1) * kSpChunkFloats, x, tokens, cols, t0, static_cast<int64_t>(ch + 1) * kSpCols);
            qft::cp_async_commit_group();
            qft::cp_async_wait_group<1>();
        } else {
            qft::cp_async_wait_group<0>();
        }
        __syncthreads();  // chunk ch and the windows visible to every warp
        const float2* xc = reinterpret_cast<const float2*>(xs + (ch & 1) * kSpChunkFloats);
        const int c0 = ch * kSpCols, c1 = c0 + kSpCols;
#pragma unroll
        for (int k = 0; k < kSpRowsPerWarp; ++k) {
            if (k < rpw) {
                const int i = warp + kSpWarps * k, s = cur_s[i], e = end_s[i];
                // Every lane has read the cursor before lane 0 moves it (below): lanes of a warp need not run in
                // lockstep (independent thread scheduling, sm_70+), and a lane reading the moved cursor would skip
                // this chunk's outliers.
                __syncwarp();
                const int2* w = win + i * kSpWin;
                int j = s;
                for (; j < e; ++j) {
                    int c;
                    float v;
                    if (j - s < kSpWin) {
                        const int2 p = w[j - s];
                        c = p.x, v = __int_as_float(p.y);
                    } else {
                        c = __ldg(col_idx + j), v = __ldg(values + j);
                    }
                    if (c >= c1) break;
                    const float2 xv = xc[(c - c0) * (kSpStride / 2) + lane];
                    acc[k].x = qft::fadd(acc[k].x, qft::fmul(v, xv.x));
                    acc[k].y = qft::fadd(acc[k].y, qft::fmul(v, xv.y));
                }
                if (lane == 0) cur_s[i] = j;
            }
        }
        __syncwarp();  // the warp's cursors are written and its windows read
        if (ch + 1 < chunks) {
            load_windows(win, cur_s, end_s, col_idx, values, warp, lane, rpw);
            qft::cp_async_commit_group();
        }
        __syncthreads();  // every warp is done with chunk ch before its buffer is refilled
    }

    float* ys = smem;  // (64 tokens, kSpYStride): y[t0 + t, r0 + i] at ys[t * kSpYStride + i]
#pragma unroll
    for (int k = 0; k < kSpRowsPerWarp; ++k) {
        if (k < rpw) {
            const int i = warp + kSpWarps * k;
            ys[(2 * lane) * kSpYStride + i] = acc[k].x;
            ys[(2 * lane + 1) * kSpYStride + i] = acc[k].y;
        }
    }
    __syncthreads();
    for (int u = threadIdx.x; u < kSpTokens * rpb; u += kSpThreads) {
        const int ti = u / rpb, i = u % rpb;
        const int64_t t = t0 + ti, r = r0 + i;
        if (t < tokens && r < rows) y[t * rows + r] = qft::fadd(y[t * rows + r], ys[ti * kSpYStride + i]);
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
    if (cols > 0x7fffffffLL - kSpCols)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_sparse_add: cols %lld exceed the 32-bit column index",
                             (long long)cols);
    // Few tokens take the kernel that stages their x rows whole in shared memory, unless the rows are too wide for it
    // (e.g. dY S over S^T of a vocabulary chunk, cols = 32000): then the tiled kernel, which sums in the same order.
    const bool few_fit = kFewTokens * cols * static_cast<int64_t>(sizeof(float)) <= smem_max;
    if ((tokens >= kTiledFrom || !few_fit) && static_cast<int64_t>(kSpSmem) <= smem_max) {
        const int64_t tiles = qft::ceil_div(tokens, kSpTokens);
        // As many rows per block as keep one block per SM busy: each block re-reads its x tile, so fewer,
        // taller blocks move less; rpw = 16 (512 rows) once there are enough token tiles.
        const int rpw = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(kSpRowsPerWarp, tiles * rows / (kSpWarps * sms))));
        const int64_t row_blocks = qft::ceil_div(rows, kSpWarps * rpw);
        if (tiles > 0x7fffffffLL || row_blocks > 65535)
            return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_sparse_add: grid (%lld, %lld) exceeds the CUDA limits",
                                 (long long)tiles, (long long)row_blocks);
        QFT_CUDA_CHECK(cudaFuncSetAttribute(sparse_add_tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)kSpSmem));
        sparse_add_tiled_kernel<<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(row_blocks)), kSpThreads, kSpSmem,
                                  qft::stream()>>>(rows, cols, qft::ptr<const int32_t>(row_ptr), qft::ptr<const int32_t>(col_idx),
                                                   qft::ptr<const float>(values), qft::ptr<const float>(x), tokens,
                                                   qft::ptr<float>(y), rpw);
        QFT_LAUNCH_CHECK("sparse_add_tiled_kernel");
        return QFT_OK;
    }
    const int64_t smem = kFewTokens * cols * (int64_t)sizeof(float);
    if (smem > smem_max)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_sparse_add: cols %lld need %lld bytes of shared memory (max %d)",
                             (long long)cols, (long long)smem, smem_max);
    QFT_CUDA_CHECK(cudaFuncSetAttribute(sparse_add_few_tokens_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    // Enough blocks to fill the GPU twice: split the rows only when there are few token tiles.
    const int64_t tiles = qft::ceil_div(tokens, kFewTokens);
    if (tiles > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_hybrid_sparse_add: %lld tokens exceed the CUDA grid", (long long)tokens);
    const int64_t splits = std::max<int64_t>(1, std::min<int64_t>(rows, qft::ceil_div(2 * sms, tiles)));
    const int64_t rows_per_block = qft::ceil_div(rows, splits);
    dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(qft::ceil_div(rows, rows_per_block)));
    sparse_add_few_tokens_kernel<<<grid, kThreads, smem, qft::stream()>>>(
        rows, cols, qft::ptr<const int32_t>(row_ptr), qft::ptr<const int32_t>(col_idx), qft::ptr<const float>(values),
        qft::ptr<const float>(x), tokens, qft::ptr<float>(y), rows_per_block);
    QFT_LAUNCH_CHECK("sparse_add_few_tokens_kernel");
    return QFT_OK;
}
