// The fused quantized Lion step on the GPU (lion_step_cuda); the CPU reference is lion_step_ref in
// native/cpu/lion_step.cpp. Both run lion_element/quantize_code* of qft_math.h per element, and every
// reduction is a max (order-free), so the results are bit-identical.
//
// One launch covers all tensors (multi-tensor apply, as NVIDIA Apex's multi_tensor_apply): one thread block
// per weight row across the tensors, found by binary search over the tensors' first global rows.
//
// lion_step_cuda (rows whose columns and block sizes are multiples of 16, up to 16384 columns: every LLaMA
// matrix): each thread owns up to R chunks of 16 elements and reads its gradient, momentum and weight codes
// once, with 16-byte loads. Pass A runs the Lion arithmetic, keeps the new fp32 weights and momenta in shared
// memory and finds the row's new absmax (non-outliers) and each momentum block's new absmax (shared-memory
// atomicMax on the float bits, which order like the floats for values >= 0); the fp32 outliers are updated in
// place; pass B quantizes the cached values and writes momentum and weight codes with 16-byte stores. DRAM
// sees each code byte once each way. Measured on the H100 (ncu), the step is bound by instruction issue, not
// HBM: about 190 instructions per element before this cache, most of them the exact division of the two
// requantizations and the 64-bit counter hash of the stochastic rounding (bench/native/bench_lion_step.cu).
//
// lion_step_cuda_rows (any other shape, e.g. 4097 columns): the same arithmetic one element per thread,
// re-reading the row per pass from L1/L2. The host splits the tensors between the two kernels.
// A pre-pass over the gradient scales sets the non-finite flag that both kernels read: no host sync.
#include <vector>

#include "../common/lion_desc.h"
#include "../common/qft_math.h"
#include "check.cuh"
#include "reduce.cuh"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int find_tensor(const int64_t* first_row, int64_t n, int64_t g) {
    int64_t lo = 0, hi = n - 1;  // last i with first_row[i] <= g
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (first_row[mid] <= g) lo = mid; else hi = mid - 1;
    }
    return static_cast<int>(lo);
}

__global__ void lion_nonfinite_prepass(const int64_t* __restrict__ desc, int64_t n_tensors, int* __restrict__ flag) {
    for (int64_t i = 0; i < n_tensors; ++i) {
        const qft::LionTensor t = qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS);
        const int64_t n = t.rows * qft::div_up(t.cols, t.g_block);
        for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x)
            if (!qft::finite(t.g_scales[k])) *flag = 1;
    }
}

struct Element {
    float g, m, w;
};

// Block indices use 32-bit division (cols < 2^31, checked on the host): 64-bit division costs ~100 instructions.
__device__ __forceinline__ Element load(const qft::LionTensor& t, int64_t r, int64_t c, int64_t gnb, int64_t mnb, float ws) {
    const int64_t i = r * t.cols + c;
    const uint32_t cu = static_cast<uint32_t>(c);
    return Element{qft::fmul(static_cast<float>(t.g_codes[i]), t.g_scales[r * gnb + cu / static_cast<uint32_t>(t.g_block)]),
                   qft::fmul(static_cast<float>(t.m_codes[i]), t.m_scales[r * mnb + cu / static_cast<uint32_t>(t.m_block)]),
                   qft::fmul(static_cast<float>(t.w_codes[i]), ws)};
}

__global__ void __launch_bounds__(kThreads) lion_step_cuda_rows(const int64_t* __restrict__ desc, const int64_t* __restrict__ first_row,
                                                               int64_t n_tensors, qft::LionConsts k, uint64_t seed, uint64_t step,
                                                               int rounding, const int* __restrict__ flag) {
    if (*flag) return;
    extern __shared__ uint32_t outlier[];  // bitmap over the row's columns
    __shared__ float sh[32];
    const int64_t gr = blockIdx.x;
    const int i = find_tensor(first_row, n_tensors, gr);
    const qft::LionTensor t = qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS);
    const int64_t r = gr - first_row[i], cols = t.cols;
    const int64_t gnb = qft::div_up(cols, t.g_block), mnb = qft::div_up(cols, t.m_block);
    const int64_t words = qft::div_up(cols, 32);
    const int32_t j0 = t.row_ptr[r], j1 = t.row_ptr[r + 1];
    for (int64_t w = threadIdx.x; w < words; w += blockDim.x) outlier[w] = 0;
    __syncthreads();
    for (int32_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) atomicOr(&outlier[t.col_idx[j] >> 5], 1u << (t.col_idx[j] & 31));
    __syncthreads();
    auto is_outlier = [&](int64_t c) { return (outlier[c >> 5] >> (c & 31)) & 1u; };
    const float ws = t.w_scales[r];

    float absmax = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        if (is_outlier(c)) continue;
        Element e = load(t, r, c, gnb, mnb, ws);
        qft::lion_element(k, e.g, &e.w, &e.m);
        absmax = fmaxf(absmax, fabsf(e.w));
    }
    const float s = qft::absmax_scale(qft::block_max(absmax, sh));

    for (int32_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
        Element e = load(t, r, t.col_idx[j], gnb, mnb, ws);
        e.w = t.values[j];
        qft::lion_element(k, e.g, &e.w, &e.m);
        t.values[j] = e.w;
    }

    const bool stochastic = rounding != QFT_ROUND_NEAREST, weyl = rounding == QFT_ROUND_STOCHASTIC_WEYL;
    const uint64_t stream = qft::rounding_stream(seed, step, static_cast<uint64_t>(t.tensor_id), weyl);
    const uint64_t offset = qft::rounding_offset(step, weyl);
    for (int64_t b = 0; b < mnb; ++b) {
        const int64_t c0 = b * t.m_block, c1 = min(cols, c0 + t.m_block);
        float mmax = 0.0f;
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            Element e = load(t, r, c, gnb, mnb, ws);
            qft::lion_element(k, e.g, &e.w, &e.m);
            mmax = fmaxf(mmax, fabsf(e.m));
        }
        const float ms = qft::absmax_scale(qft::block_max(mmax, sh));
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            Element e = load(t, r, c, gnb, mnb, ws);
            qft::lion_element(k, e.g, &e.w, &e.m);
            const int64_t idx = r * cols + c;
            t.m_codes[idx] = static_cast<int8_t>(qft::quantize_code_sign_kept(e.m, ms));
            if (!is_outlier(c))
                t.w_codes[idx] = static_cast<int8_t>(qft::quantize_code(e.w, s, stochastic, stochastic ? qft::rng_bits(stream, idx) + offset : 0));
        }
        __syncthreads();  // every thread has read the old scale of block b (in load) before it is replaced
        if (threadIdx.x == 0) t.m_scales[r * mnb + b] = ms;
    }
    if (threadIdx.x == 0) t.w_scales[r] = s;
}


constexpr int kChunk = 16;                          // int8 codes per 16-byte access
constexpr int kMaxChunksPerThread = 4;              // R: up to 256 * 4 * 16 = 16384 columns in registers
constexpr int64_t kVectorMaxCols = int64_t(kThreads) * kMaxChunksPerThread * kChunk;

// Code e (0..15) of a chunk held as 4 little-endian words, as an exact float without a conversion
// instruction (I2F runs at a quarter of the FP32 rate): byte ^ 0x80 placed under the exponent of 2^23 gives
// 2^23 + code + 128, and subtracting 2^23 + 128 is exact.
__device__ __forceinline__ float code_at(const int4& q, int e) {
    const uint32_t word = static_cast<uint32_t>(e < 4 ? q.x : e < 8 ? q.y : e < 12 ? q.z : q.w) ^ 0x80808080u;
    return __uint_as_float(__byte_perm(word, 0x4b000000u, (e & 3) | 0x7650)) - 8388736.0f;
}

__device__ __forceinline__ void put_code(int4& q, int e, int code) {
    const int v = (code & 0xff) << (8 * (e & 3));
    if (e < 4) q.x |= v; else if (e < 8) q.y |= v; else if (e < 12) q.z |= v; else q.w |= v;
}

// Shared memory, in 16-byte units first: [new weights (R*4, kThreads) float4 | new momentum, the same |
// outlier bitmap: `words` uint32 | new momentum-block absmax as float bits: one uint32 per block].
// The float4 caches are indexed (q*4 + v)*kThreads + thread, so a warp's 16-byte accesses are conflict-free.
constexpr size_t vector_cache_bytes(int r) { return size_t(2) * r * 4 * kThreads * sizeof(float4); }

// Minimum resident blocks: 4 for R = 1 caps it at 64 registers; 2 lets longer rows keep their codes in registers.
template <int R>
__global__ void __launch_bounds__(kThreads, R == 1 ? 4 : 2) lion_step_cuda(const int64_t* __restrict__ desc, const int64_t* __restrict__ first_row,
                                                          int64_t n_tensors, qft::LionConsts k, uint64_t seed, uint64_t step,
                                                          int rounding, const int* __restrict__ flag, int words) {
    if (*flag) return;
    extern __shared__ float4 cache[];
    __shared__ float sh[32];
    const int64_t gr = blockIdx.x;
    const int i = find_tensor(first_row, n_tensors, gr);
    const qft::LionTensor t = qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS);
    const int64_t r = gr - first_row[i];
    const int cols = static_cast<int>(t.cols), chunks = cols / kChunk;
    const int g_block = static_cast<int>(t.g_block), m_block = static_cast<int>(t.m_block);
    const int gnb = (cols + g_block - 1) / g_block, mnb = (cols + m_block - 1) / m_block;
    float4* w_new = cache;
    float4* m_new = cache + R * 4 * kThreads;
    uint32_t* outlier = reinterpret_cast<uint32_t*>(cache + 2 * R * 4 * kThreads);  // bit c: column c is an fp32 outlier
    uint32_t* m_absmax = outlier + words;
    for (int w = threadIdx.x; w < (cols + 31) / 32; w += kThreads) outlier[w] = 0;
    for (int b = threadIdx.x; b < mnb; b += kThreads) m_absmax[b] = 0;
    __syncthreads();
    const int32_t j0 = t.row_ptr[r], j1 = t.row_ptr[r + 1];
    for (int32_t j = j0 + threadIdx.x; j < j1; j += kThreads) atomicOr(&outlier[t.col_idx[j] >> 5], 1u << (t.col_idx[j] & 31));
    __syncthreads();

    // Pass A: read each code once, run Lion, keep the new values in shared memory, reduce the absmaxes.
    const int64_t row = r * cols;
    const float ws = t.w_scales[r];
    int4 wq[R];  // old weight codes: outliers keep theirs
    float absmax = 0.0f;
#pragma unroll
    for (int q = 0; q < R; ++q) {
        const int ch = q * kThreads + threadIdx.x;
        if (ch >= chunks) continue;
        const int c0 = ch * kChunk;
        const int4 gq = __ldcs(reinterpret_cast<const int4*>(t.g_codes + row + c0));  // read once: evict first
        const int4 mq = *reinterpret_cast<const int4*>(t.m_codes + row + c0);
        wq[q] = *reinterpret_cast<const int4*>(t.w_codes + row + c0);
        const float gs = t.g_scales[r * gnb + c0 / g_block], ms = t.m_scales[r * mnb + c0 / m_block];
        const uint32_t out = outlier[c0 >> 5] >> (c0 & 31);  // c0 % 16 == 0: the chunk's 16 bits share a word
        float wv[kChunk], mv[kChunk], mmax = 0.0f;
#pragma unroll
        for (int e = 0; e < kChunk; ++e) {
            const float g = qft::fmul(code_at(gq, e), gs);
            mv[e] = qft::fmul(code_at(mq, e), ms);
            wv[e] = qft::fmul(code_at(wq[q], e), ws);
            qft::lion_element(k, g, &wv[e], &mv[e]);
            if (!((out >> e) & 1u)) absmax = fmaxf(absmax, fabsf(wv[e]));
            mmax = fmaxf(mmax, fabsf(mv[e]));
        }
#pragma unroll
        for (int v = 0; v < 4; ++v) {
            w_new[(q * 4 + v) * kThreads + threadIdx.x] = make_float4(wv[4 * v], wv[4 * v + 1], wv[4 * v + 2], wv[4 * v + 3]);
            m_new[(q * 4 + v) * kThreads + threadIdx.x] = make_float4(mv[4 * v], mv[4 * v + 1], mv[4 * v + 2], mv[4 * v + 3]);
        }
        atomicMax(&m_absmax[c0 / m_block], __float_as_uint(mmax));  // a chunk lies in one block: m_block % 16 == 0
    }
    const float s = qft::absmax_scale(qft::block_max(absmax, sh));  // its barriers also complete m_absmax

    for (int32_t j = j0 + threadIdx.x; j < j1; j += kThreads) {
        Element e = load(t, r, t.col_idx[j], gnb, mnb, ws);
        e.w = t.values[j];
        qft::lion_element(k, e.g, &e.w, &e.m);
        t.values[j] = e.w;
    }
    __syncthreads();  // the outliers above read old codes and scales that pass B replaces

    // Pass B: quantize the cached new values with the new scales and write the codes with 16-byte stores.
    const bool stochastic = rounding != QFT_ROUND_NEAREST, weyl = rounding == QFT_ROUND_STOCHASTIC_WEYL;
    const uint64_t stream = qft::rounding_stream(seed, step, static_cast<uint64_t>(t.tensor_id), weyl);
    const uint64_t offset = qft::rounding_offset(step, weyl);
#pragma unroll
    for (int q = 0; q < R; ++q) {
        const int ch = q * kThreads + threadIdx.x;
        if (ch >= chunks) continue;
        const int c0 = ch * kChunk;
        const float new_ms = qft::absmax_scale(__uint_as_float(m_absmax[c0 / m_block]));
        const uint32_t out = outlier[c0 >> 5] >> (c0 & 31);
        int4 mo = make_int4(0, 0, 0, 0), wo = make_int4(0, 0, 0, 0);
#pragma unroll
        for (int v = 0; v < 4; ++v) {
            const float4 w4 = w_new[(q * 4 + v) * kThreads + threadIdx.x], m4 = m_new[(q * 4 + v) * kThreads + threadIdx.x];
            const float wv[4] = {w4.x, w4.y, w4.z, w4.w}, mv[4] = {m4.x, m4.y, m4.z, m4.w};
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const int e = 4 * v + u;
                put_code(mo, e, qft::quantize_code_sign_kept(mv[u], new_ms));
                const uint64_t idx = static_cast<uint64_t>(row + c0 + e);
                put_code(wo, e, (out >> e) & 1u ? static_cast<int>(code_at(wq[q], e))
                                                : qft::quantize_code(wv[u], s, stochastic, stochastic ? qft::rng_bits(stream, idx) + offset : 0));
            }
        }
        *reinterpret_cast<int4*>(t.m_codes + row + c0) = mo;
        *reinterpret_cast<int4*>(t.w_codes + row + c0) = wo;
    }
    for (int b = threadIdx.x; b < mnb; b += kThreads) t.m_scales[r * mnb + b] = qft::absmax_scale(__uint_as_float(m_absmax[b]));
    if (threadIdx.x == 0) t.w_scales[r] = s;
}

// Whether tensor record d can take lion_step_cuda: 16-byte chunks that never straddle a row or a scale block.
bool vector_eligible(const int64_t* d) {
    const int64_t cols = d[QFT_LION_COLS];
    auto aligned = [&](int f) { return d[f] % 16 == 0; };
    return cols % kChunk == 0 && cols <= kVectorMaxCols && d[QFT_LION_G_BLOCK] % kChunk == 0 && d[QFT_LION_M_BLOCK] % kChunk == 0 &&
           aligned(QFT_LION_G_CODES) && aligned(QFT_LION_M_CODES) && aligned(QFT_LION_W_CODES);
}

}  // namespace

extern "C" QFT_API int qft_cuda_quant_lion_step(int32_t device, const int64_t* desc, int64_t n_tensors, float lr, float beta1,
                                                float beta2, float weight_decay, int64_t step, int64_t seed, int32_t rounding,
                                                int64_t found_nonfinite) {
    for (int64_t i = 0; i < n_tensors; ++i)
        if (desc[i * QFT_LION_DESC_FIELDS + QFT_LION_G_BLOCK] > 0x7fffffffLL || desc[i * QFT_LION_DESC_FIELDS + QFT_LION_M_BLOCK] > 0x7fffffffLL)
            return qft_set_error(QFT_EUNSUPPORTED, "qft_quant_lion_step: tensor %lld has a block size beyond 2^31", (long long)i);
    // Tensors go to lion_step_cuda<R> grouped by R (chunks per thread: a 4096-column row needs 1, an 11008-column
    // row 3; one launch per R so short rows do not pay long rows' registers), or to lion_step_cuda_rows (group 0).
    // Host side, one upload: per group [descriptors | first global row of each tensor, then the total].
    std::vector<int64_t> group_desc[kMaxChunksPerThread + 1];
    for (int64_t i = 0; i < n_tensors; ++i) {
        const int64_t* d = desc + i * QFT_LION_DESC_FIELDS;
        const int g = vector_eligible(d) ? static_cast<int>(qft::div_up(d[QFT_LION_COLS], int64_t(kThreads) * kChunk)) : 0;
        group_desc[g].insert(group_desc[g].end(), d, d + QFT_LION_DESC_FIELDS);
    }
    struct Group { int64_t offset = 0, n = 0, total_rows = 0, max_cols = 0, max_blocks = 0; };
    Group groups[kMaxChunksPerThread + 1];
    std::vector<int64_t> host;
    for (int g = 0; g <= kMaxChunksPerThread; ++g) {
        Group& gp = groups[g];
        gp.offset = static_cast<int64_t>(host.size());
        gp.n = static_cast<int64_t>(group_desc[g].size()) / QFT_LION_DESC_FIELDS;
        host.insert(host.end(), group_desc[g].begin(), group_desc[g].end());
        for (int64_t i = 0; i < gp.n; ++i) {
            const int64_t* t = &group_desc[g][i * QFT_LION_DESC_FIELDS];
            host.push_back(gp.total_rows);
            gp.total_rows += t[QFT_LION_ROWS];
            gp.max_cols = std::max(gp.max_cols, t[QFT_LION_COLS]);
            gp.max_blocks = std::max(gp.max_blocks, qft::div_up(t[QFT_LION_COLS], t[QFT_LION_M_BLOCK]));
        }
        host.push_back(gp.total_rows);
        if (gp.total_rows > 0x7fffffffLL || (g == 0 && qft::div_up(gp.max_cols, 32) * 4 > 48 * 1024))
            return qft_set_error(QFT_EUNSUPPORTED, "qft_quant_lion_step: %lld rows / %lld columns exceed the CUDA kernel's limits",
                                 (long long)gp.total_rows, (long long)gp.max_cols);
    }
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int* flag = qft::ptr<int>(found_nonfinite);
    QFT_CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), qft::stream()));
    if (n_tensors == 0) return QFT_OK;
    int64_t* dev = nullptr;
    const size_t bytes = host.size() * sizeof(int64_t);
    QFT_CUDA_CHECK(cudaMallocAsync(&dev, bytes, qft::stream()));
    QFT_CUDA_CHECK(cudaMemcpyAsync(dev, host.data(), bytes, cudaMemcpyHostToDevice, qft::stream()));
    const qft::LionConsts k = qft::lion_consts(lr, beta1, beta2, weight_decay);
    for (int g = 0; g <= kMaxChunksPerThread; ++g) {
        const Group& gp = groups[g];
        if (gp.n == 0) continue;
        lion_nonfinite_prepass<<<256, kThreads, 0, qft::stream()>>>(dev + gp.offset, gp.n, flag);
        QFT_LAUNCH_CHECK("lion_nonfinite_prepass");
    }
    for (int g = 0; g <= kMaxChunksPerThread; ++g) {
        const Group& gp = groups[g];
        if (gp.total_rows == 0) continue;
        const int64_t* d = dev + gp.offset;
        const int64_t* first = d + gp.n * QFT_LION_DESC_FIELDS;
        const unsigned grid = static_cast<unsigned>(gp.total_rows);
        const uint64_t sd = static_cast<uint64_t>(seed), st = static_cast<uint64_t>(step);
        if (g == 0) {
            lion_step_cuda_rows<<<grid, kThreads, qft::div_up(gp.max_cols, 32) * 4, qft::stream()>>>(d, first, gp.n, k, sd, st, rounding, flag);
            QFT_LAUNCH_CHECK("lion_step_cuda_rows");
            continue;
        }
        const int words = static_cast<int>(qft::div_up(gp.max_cols, 32));
        const auto kernel = g == 1 ? lion_step_cuda<1> : g == 2 ? lion_step_cuda<2> : g == 3 ? lion_step_cuda<3> : lion_step_cuda<4>;
        const size_t smem = vector_cache_bytes(g) + (words + gp.max_blocks) * sizeof(uint32_t);
        QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
        kernel<<<grid, kThreads, smem, qft::stream()>>>(d, first, gp.n, k, sd, st, rounding, flag, words);
        QFT_LAUNCH_CHECK("lion_step_cuda");
    }
    QFT_CUDA_CHECK(cudaFreeAsync(dev, qft::stream()));
    return QFT_OK;
}
