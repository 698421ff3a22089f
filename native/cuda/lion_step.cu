// The fused quantized Lion step on the GPU (lion_step_cuda); the CPU reference is lion_step_ref in
// native/cpu/lion_step.cpp. Both run lion_element/quantize_* of qft_math.h per element, and every
// reduction is a max (order-free), so the results are bit-identical.
//
// One launch covers all tensors (multi-tensor apply, as NVIDIA Apex's multi_tensor_apply): one thread block
// per weight row across the tensors, found by binary search over the tensors' first global rows.
//
// lion_step_cuda (rows whose columns and block sizes are multiples of 16, up to 16384 columns: every LLaMA
// matrix): 128 or 256 threads per row, each owning up to R chunks of 16 elements, reads the gradient, momentum and
// weight codes once, with 16-byte loads. Pass A runs the Lion arithmetic, keeps the new fp32 weights and
// momenta in shared memory and finds the row's new absmax (non-outliers) and each momentum block's new absmax
// (shared-memory atomicMax on the float bits, which order like the floats for values >= 0); the fp32 outliers
// are updated in place; pass B quantizes the cached values and writes momentum and weight codes with 16-byte
// stores. DRAM sees each code byte once each way.
// The step is bound by instruction issue, not HBM (ncu, session 3: SMs 78% busy, DRAM 21%, 157 instructions
// per element; bench/results/lion-step-h100.md). Hence: reciprocal scales (a multiply, not a division, per
// code), a 32-bit hash per element under a 64-bit key made once per row (qft_math.h), block indices by a
// multiply, no rounding-mode branch in the element loop, the per-row tensor search and RNG key made once
// per row, and 128 threads for 4096-column rows so that the fixed per-row work is spread over 2 chunks.
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
    absmax = qft::block_max(absmax, sh);
    const float s = qft::absmax_scale(absmax), inv = qft::absmax_inv_scale(absmax);

    for (int32_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
        Element e = load(t, r, t.col_idx[j], gnb, mnb, ws);
        e.w = t.values[j];
        qft::lion_element(k, e.g, &e.w, &e.m);
        t.values[j] = e.w;
    }

    const bool stochastic = rounding != QFT_ROUND_NEAREST, weyl = rounding == QFT_ROUND_STOCHASTIC_WEYL;
    const uint64_t row_key = qft::rng_row(qft::rounding_stream(seed, step, static_cast<uint64_t>(t.tensor_id), weyl), r);
    const uint32_t offset = qft::rounding_offset(step, weyl);
    for (int64_t b = 0; b < mnb; ++b) {
        const int64_t c0 = b * t.m_block, c1 = min(cols, c0 + t.m_block);
        float mmax = 0.0f;
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            Element e = load(t, r, c, gnb, mnb, ws);
            qft::lion_element(k, e.g, &e.w, &e.m);
            mmax = fmaxf(mmax, fabsf(e.m));
        }
        mmax = qft::block_max(mmax, sh);
        const float ms = qft::absmax_scale(mmax), inv_m = qft::absmax_inv_scale(mmax);
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            Element e = load(t, r, c, gnb, mnb, ws);
            qft::lion_element(k, e.g, &e.w, &e.m);
            const int64_t idx = r * cols + c;
            t.m_codes[idx] = static_cast<int8_t>(qft::quantize_sign_kept(e.m, inv_m));
            if (!is_outlier(c))
                t.w_codes[idx] = static_cast<int8_t>(
                    stochastic ? qft::quantize_stochastic(e.w, inv, qft::rng_bits(row_key, static_cast<uint32_t>(c)) + offset)
                               : qft::quantize_nearest(e.w, inv));
        }
        __syncthreads();  // every thread has read the old scale of block b (in load) before it is replaced
        if (threadIdx.x == 0) t.m_scales[r * mnb + b] = ms;
    }
    if (threadIdx.x == 0) t.w_scales[r] = s;
}


constexpr int kChunk = 16;               // int8 codes per 16-byte access
constexpr int64_t kVectorMaxCols = 16384;  // the widest row lion_step_cuda takes (256 threads x 4 chunks)

// lion_step_cuda's shapes: T threads per row, R chunks of 16 per thread, group g (1..5) of the host split.
// 128 threads up to 4096 columns spread the fixed per-row work over 2 chunks per thread at LLaMA's 4096; longer
// rows take 256 threads so that 11008 columns need 3 chunks' shared-memory cache per thread, not 6.
constexpr int kGroups = 5;
constexpr int kGroupThreads[kGroups + 1] = {0, 128, 128, 256, 256, 256};
constexpr int kGroupChunks[kGroups + 1] = {0, 1, 2, 2, 3, 4};
int vector_group(int64_t cols) { return cols <= 4096 ? static_cast<int>(qft::div_up(cols, 2048)) : 1 + static_cast<int>(qft::div_up(cols, 4096)); }

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

// n / d by one multiply: magic = ceil(2^32 / d) (for d >= 2) makes __umulhi(n, magic) = n/d + n*eps with
// eps < 2^-32, exact while n < 2^16 and d < 2^16 (or n < d). Columns here are < 2^14 and blocks >= 16.
// The division that makes the magic runs once per thread; a divide by a runtime value is ~20 instructions.
struct DivBy {
    uint32_t magic;
    __device__ explicit DivBy(uint32_t d) : magic(0xffffffffu / d + 1u) {}
    __device__ uint32_t operator()(uint32_t n) const { return __umulhi(n, magic); }
};

// Shared memory, in 16-byte units first: [new weights (R*4, T) float4 | new momentum, the same |
// outlier bitmap: `words` uint32 | per momentum block: new absmax as float bits (uint32), then its
// reciprocal scale (float)]. The float4 caches are indexed (q*4 + v)*T + thread, so a warp's 16-byte
// accesses are conflict-free.
constexpr size_t vector_cache_bytes(int t, int r) { return size_t(2) * r * 4 * t * sizeof(float4); }

// One row per thread block of T threads, R chunks of 16 elements per thread, so that the per-row work
// (finding the tensor, the row's RNG key, the reductions and barriers) is shared by 16*R elements.
// Minimum resident blocks: 8 caps 128 x 2 at 64 registers and 4 lets 128 x 1 take 115 (at 80 it spilled, ptxas -v);
// 256 threads take 2 (up to 128 registers; their cache allows 2-3 blocks per SM anyway).
// Stochastic: whether weights round stochastically (independent or Weyl draws differ only in the row key and
// offset); a template parameter so that the element loop carries no rounding-mode branch.
// words / blocks: the group's largest outlier bitmap and momentum block count (shared-memory layout).
template <int T, int R, bool Stochastic>
__global__ void __launch_bounds__(T, T == 256 ? 2 : R == 1 ? 4 : 8) lion_step_cuda(const int64_t* __restrict__ desc, const int64_t* __restrict__ first_row,
                                                                            int64_t n_tensors, qft::LionConsts k, uint64_t seed, uint64_t step,
                                                                            bool weyl, const int* __restrict__ flag, int words, int blocks) {
    if (*flag) return;
    extern __shared__ float4 cache[];
    __shared__ float sh[32];
    __shared__ int sh_tensor;
    __shared__ uint64_t sh_row_key;
    float4* w_new = cache;
    float4* m_new = cache + R * 4 * T;
    uint32_t* outlier = reinterpret_cast<uint32_t*>(cache + 2 * R * 4 * T);  // bit c: column c is an fp32 outlier
    uint32_t* m_absmax = outlier + words;
    float* m_inv = reinterpret_cast<float*>(m_absmax + blocks);
    const int64_t gr = blockIdx.x;
    if (threadIdx.x == 0) {  // once per row: the binary search over the tensors and the row's 64-bit RNG key
        const int i = find_tensor(first_row, n_tensors, gr);
        sh_tensor = i;
        if (Stochastic)
            sh_row_key = qft::rng_row(qft::rounding_stream(seed, step, static_cast<uint64_t>(desc[i * QFT_LION_DESC_FIELDS + QFT_LION_TENSOR_ID]), weyl),
                                      static_cast<uint64_t>(gr - first_row[i]));
    }
    for (int w = threadIdx.x; w < words; w += T) outlier[w] = 0;
    for (int b = threadIdx.x; b < blocks; b += T) m_absmax[b] = 0;
    __syncthreads();
    const int i = sh_tensor;
    const qft::LionTensor t = qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS);
    const int64_t r = gr - first_row[i];
    const int cols = static_cast<int>(t.cols), chunks = cols / kChunk;
    const int g_block = static_cast<int>(t.g_block), m_block = static_cast<int>(t.m_block);
    const int gnb = (cols + g_block - 1) / g_block, mnb = (cols + m_block - 1) / m_block;
    const DivBy g_blk(static_cast<uint32_t>(g_block)), m_blk(static_cast<uint32_t>(m_block));
    const int32_t j0 = t.row_ptr[r], j1 = t.row_ptr[r + 1];
    for (int32_t j = j0 + threadIdx.x; j < j1; j += T) atomicOr(&outlier[t.col_idx[j] >> 5], 1u << (t.col_idx[j] & 31));
    __syncthreads();

    // Pass A: read each code once, run Lion, keep the new values in shared memory, reduce the absmaxes.
    const int64_t row = r * cols;
    const float ws = t.w_scales[r];
    const float* g_scales = t.g_scales + r * gnb;
    const float* m_scales = t.m_scales + r * mnb;
    float absmax = 0.0f;
#pragma unroll
    for (int q = 0; q < R; ++q) {
        const int ch = q * T + threadIdx.x;
        if (ch >= chunks) continue;
        const int c0 = ch * kChunk;
        const int4 gq = __ldcs(reinterpret_cast<const int4*>(t.g_codes + row + c0));  // read once: evict first
        const int4 mq = *reinterpret_cast<const int4*>(t.m_codes + row + c0);
        const int4 wq = *reinterpret_cast<const int4*>(t.w_codes + row + c0);
        const uint32_t mb = m_blk(c0);
        const float gs = g_scales[g_blk(c0)], ms = m_scales[mb];
        const uint32_t out = outlier[c0 >> 5] >> (c0 & 31);  // c0 % 16 == 0: the chunk's 16 bits share a word
        float wv[kChunk], mv[kChunk], mmax = 0.0f;
#pragma unroll
        for (int e = 0; e < kChunk; ++e) {
            const float g = qft::fmul(code_at(gq, e), gs);
            mv[e] = qft::fmul(code_at(mq, e), ms);
            wv[e] = qft::fmul(code_at(wq, e), ws);
            qft::lion_element(k, g, &wv[e], &mv[e]);
            absmax = fmaxf(absmax, (out >> e) & 1u ? 0.0f : fabsf(wv[e]));
            mmax = fmaxf(mmax, fabsf(mv[e]));
        }
#pragma unroll
        for (int v = 0; v < 4; ++v) {
            w_new[(q * 4 + v) * T + threadIdx.x] = make_float4(wv[4 * v], wv[4 * v + 1], wv[4 * v + 2], wv[4 * v + 3]);
            m_new[(q * 4 + v) * T + threadIdx.x] = make_float4(mv[4 * v], mv[4 * v + 1], mv[4 * v + 2], mv[4 * v + 3]);
        }
        atomicMax(&m_absmax[mb], __float_as_uint(mmax));  // a chunk lies in one block: m_block % 16 == 0
    }
    absmax = qft::block_max(absmax, sh);  // its barriers also complete m_absmax
    const float s = qft::absmax_scale(absmax), inv = qft::absmax_inv_scale(absmax);

    for (int32_t j = j0 + threadIdx.x; j < j1; j += T) {
        Element e = load(t, r, t.col_idx[j], gnb, mnb, ws);
        e.w = t.values[j];
        qft::lion_element(k, e.g, &e.w, &e.m);
        t.values[j] = e.w;
    }
    for (int b = threadIdx.x; b < mnb; b += T) m_inv[b] = qft::absmax_inv_scale(__uint_as_float(m_absmax[b]));
    __syncthreads();  // the outliers above read old codes and scales that pass B replaces; m_inv is complete

    // Pass B: quantize the cached new values with the new scales and write the codes with 16-byte stores.
    // Each weight element's rounding bits cost one 32-bit mix (qft_math.h); an outlier's dense code stays 0.
    const uint64_t row_key = Stochastic ? sh_row_key : 0;
    const uint32_t offset = qft::rounding_offset(step, weyl);
#pragma unroll
    for (int q = 0; q < R; ++q) {
        const int ch = q * T + threadIdx.x;
        if (ch >= chunks) continue;
        const int c0 = ch * kChunk;
        const float inv_m = m_inv[m_blk(c0)];
        const uint32_t out = outlier[c0 >> 5] >> (c0 & 31);
        int4 mo = make_int4(0, 0, 0, 0), wo = make_int4(0, 0, 0, 0);
#pragma unroll
        for (int v = 0; v < 4; ++v) {
            const float4 w4 = w_new[(q * 4 + v) * T + threadIdx.x], m4 = m_new[(q * 4 + v) * T + threadIdx.x];
            const float wv[4] = {w4.x, w4.y, w4.z, w4.w}, mv[4] = {m4.x, m4.y, m4.z, m4.w};
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const int e = 4 * v + u;
                put_code(mo, e, qft::quantize_sign_kept(mv[u], inv_m));
                const int wc = Stochastic ? qft::quantize_stochastic(wv[u], inv, qft::rng_bits(row_key, static_cast<uint32_t>(c0 + e)) + offset)
                                          : qft::quantize_nearest(wv[u], inv);
                put_code(wo, e, (out >> e) & 1u ? 0 : wc);
            }
        }
        *reinterpret_cast<int4*>(t.m_codes + row + c0) = mo;
        *reinterpret_cast<int4*>(t.w_codes + row + c0) = wo;
    }
    for (int b = threadIdx.x; b < mnb; b += T) t.m_scales[r * mnb + b] = qft::absmax_scale(__uint_as_float(m_absmax[b]));
    if (threadIdx.x == 0) t.w_scales[r] = s;
}

template <int T, int R>
int launch_vector(unsigned grid, size_t smem, const int64_t* d, const int64_t* first, int64_t n, const qft::LionConsts& k,
                  uint64_t seed, uint64_t step, int rounding, const int* flag, int words, int blocks) {
    const auto kernel = rounding == QFT_ROUND_NEAREST ? lion_step_cuda<T, R, false> : lion_step_cuda<T, R, true>;
    QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    kernel<<<grid, T, smem, qft::stream()>>>(d, first, n, k, seed, step, rounding == QFT_ROUND_STOCHASTIC_WEYL, flag, words,
                                                       blocks);
    QFT_LAUNCH_CHECK("lion_step_cuda");
    return QFT_OK;
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
    // Tensors go to lion_step_cuda<T, R> grouped by shape (vector_group: a 4096-column row takes 128 x 2, an
    // 11008-column row 256 x 3; one launch per group so short rows do not pay long rows' registers and shared
    // memory), or to lion_step_cuda_rows (group 0).
    // Host side, one upload: per group [descriptors | first global row of each tensor, then the total].
    std::vector<int64_t> group_desc[kGroups + 1];
    for (int64_t i = 0; i < n_tensors; ++i) {
        const int64_t* d = desc + i * QFT_LION_DESC_FIELDS;
        const int g = vector_eligible(d) ? vector_group(d[QFT_LION_COLS]) : 0;
        group_desc[g].insert(group_desc[g].end(), d, d + QFT_LION_DESC_FIELDS);
    }
    struct Group { int64_t offset = 0, n = 0, total_rows = 0, max_cols = 0, max_blocks = 0; };
    Group groups[kGroups + 1];
    std::vector<int64_t> host;
    for (int g = 0; g <= kGroups; ++g) {
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
    for (int g = 0; g <= kGroups; ++g) {
        const Group& gp = groups[g];
        if (gp.n == 0) continue;
        lion_nonfinite_prepass<<<256, kThreads, 0, qft::stream()>>>(dev + gp.offset, gp.n, flag);
        QFT_LAUNCH_CHECK("lion_nonfinite_prepass");
    }
    for (int g = 0; g <= kGroups; ++g) {
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
        const int words = static_cast<int>(qft::div_up(gp.max_cols, 32)), blocks = static_cast<int>(gp.max_blocks);
        const size_t smem = vector_cache_bytes(kGroupThreads[g], kGroupChunks[g]) + (words + 2 * blocks) * sizeof(uint32_t);
        using Launch = int (*)(unsigned, size_t, const int64_t*, const int64_t*, int64_t, const qft::LionConsts&, uint64_t, uint64_t, int,
                               const int*, int, int);
        static constexpr Launch kLaunch[kGroups] = {launch_vector<128, 1>, launch_vector<128, 2>, launch_vector<256, 2>,
                                                    launch_vector<256, 3>, launch_vector<256, 4>};
        if (int rc = kLaunch[g - 1](grid, smem, d, first, gp.n, k, sd, st, rounding, flag, words, blocks)) return rc;
    }
    QFT_CUDA_CHECK(cudaFreeAsync(dev, qft::stream()));
    return QFT_OK;
}
