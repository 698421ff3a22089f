// PEQA forward on the GPU: y (tokens, rows) fp32 = x (tokens, cols) fp32 · Whatᵀ, What[r,c] = s[r,g] (q[r,c] - z[r,g])
// from the packed b-bit codes of native/include/qft4j/peqa.h. CPU reference: matmul_ref in native/cpu/peqa.cpp.
//
// Two kernels, picked by the token count:
//  * <= 8 tokens (decode): gemv_kernel, bound by reading the packed weight once from HBM. A warp owns 4 rows
//    and its lanes consecutive words of them; codes and x stream through shared memory by cp.async (every
//    x value read there serves the warp's 4 rows). fp32 FMAs: matches the CPU to fp32 rounding (the
//    test's 1e-5). 3-bit weights take gemv_row_kernel (see there).
//  * more tokens: mma_kernel, tensor cores (mma.sync m16n8k16 bf16 -> fp32, sm_80+). A block tile of
//    BM tokens x BN rows over a K slice of 8 code words per row (64 columns at 4 bits, 80 at 3 bits):
//    the packed codes and the fp32 x slice arrive by cp.async in a 3-stage ring; each k step the block
//    decodes its codes to bf16 What (s * (q - z) in fp32, as the CPU does, then rounded to bf16) and
//    converts the x slice to bf16, both into shared tiles the warps read with ldmatrix. So the weight is
//    never written to global memory in any precision.
//    Rounding: x and What are each rounded to bf16 (relative error <= u = 2^-8), products and sums are
//    fp32, so |y - y_exact| <= (2u + u^2) sum_c |x[t,c] What[r,c]| + the fp32 accumulation error; with
//    bf16-representable x and What the result is exact (PeqaCudaTest checks both).
#include <cuda_bf16.h>

#include <algorithm>

#include "../common/peqa_layout.h"
#include "check.cuh"
#include "cp_async.cuh"
#include "qft4j/peqa.h"

namespace {

using qft::PeqaLayout;

constexpr int kGemvTokens = 8;     // the GEMV handles 1..8 tokens
constexpr float kTwo23 = 8388608.0f;  // 2^23: (2^23 + q) - (2^23 + z) = q - z exactly, without an int -> float convert

// 2^23 + q as a float: the code q (< 2^23) placed in the mantissa, one logic op instead of an I2F.
__device__ __forceinline__ float code_plus_2_23(uint32_t q) { return __uint_as_float(0x4B000000u | q); }

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core kernel.

constexpr int kMmaThreads = 256;  // 8 warps: 2 along tokens x 4 along rows
constexpr int kStages = 3;        // cp.async ring depth
constexpr int kWordsK = 8;        // code words per row per k step

template <int BITS, int MT, int NT>
struct MmaCfg {
    static constexpr int kCpw = 32 / BITS;              // codes per word: 8 or 10
    static constexpr int kBK = kWordsK * kCpw;          // columns per k step: 64 or 80 (multiple of 16)
    static constexpr int kBM = 2 * 16 * MT;             // tokens per block: 2 warps x MT m16 tiles
    static constexpr int kBN = 4 * 8 * NT;              // rows per block: 4 warps x NT n8 tiles
    // Row strides: x (kBK + 8) floats = 8 or 24 (mod 32) words, so the 8-byte fragment loads of a
    // half-warp (4 rows x 4 column pairs) hit 32 distinct banks; What (kBK + 8) bf16 = an odd number of
    // 16-byte units, so the 8 rows an ldmatrix phase reads fall in 8 distinct bank groups.
    static constexpr int kXs = kBK + 8, kWs = kBK + 8;
    static constexpr int kXStage = kBM * kXs;           // floats per x stage
    static constexpr int kCStage = kBN * kWordsK;       // words per code stage
    static constexpr int kWordsPerThread = kBN * kWordsK / kMmaThreads;
    static constexpr size_t kSmem = kStages * (kXStage * 4 + kCStage * 4) + (kBN + kBM) * kWs * 2;
};

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low half) = lo: the lower k index
    return *reinterpret_cast<uint32_t*>(&v);
}

__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Scale and zero-point of the groups a word's codes start in (and the next one, for words that cross a
// group boundary), loaded one k step ahead of the decode so their latency hides behind the MMAs.
struct WordGroups {
    float s0, zb0, s1, zb1;  // s and 2^23 + z of groups g0 and g0 + 1
    int g0, next;            // g0 and the first column of group g0 + 1
};

// g0: the group of the word's first column, which the callers share among the words of one column.
__device__ __forceinline__ WordGroups load_word_groups(const float* scales, const uint8_t* zeros, const PeqaLayout& l,
                                                       int64_t r, int64_t word, int g0) {
    WordGroups w{0.0f, kTwo23, 0.0f, kTwo23, 0, 0x7fffffff};
    if (r >= l.rows || word >= l.words) return w;
    const int c = static_cast<int>(word) * l.cpw;
    w.g0 = g0;
    w.next = (g0 + 1) * static_cast<int>(l.group);
    const int64_t base = r * l.groups;
    w.s0 = __ldg(scales + base + w.g0);
    w.zb0 = kTwo23 + static_cast<float>(__ldg(zeros + base + w.g0));
    if (c + l.cpw > w.next && w.next < l.cols) {  // only words that cross a boundary pay for the second load
        w.s1 = __ldg(scales + base + w.g0 + 1);
        w.zb1 = kTwo23 + static_cast<float>(__ldg(zeros + base + w.g0 + 1));
    }
    return w;
}

// The kCpw codes of one word -> fp32 What (s * (q - z), rounded once, as the CPU computes it), 0 past the
// last column. Most words lie inside one group and the matrix: a straight decode. Otherwise a group
// boundary inside the word moves to the prefetched next group, and a second one (groups narrower than a
// word) loads its values directly.
template <int BITS>
__device__ __forceinline__ void decode_word(uint32_t word_bits, int c_first, const WordGroups& wg, const float* scales,
                                            const uint8_t* zeros, const PeqaLayout& l, int64_t r, float (&w)[32 / BITS]) {
    constexpr int kCpw = 32 / BITS;
    constexpr uint32_t kMask = (1u << BITS) - 1u;
    const int cols = static_cast<int>(l.cols);
    if (c_first + kCpw <= cols && wg.next >= c_first + kCpw) {
#pragma unroll
        for (int i = 0; i < kCpw; ++i) w[i] = wg.s0 * (code_plus_2_23((word_bits >> (BITS * i)) & kMask) - wg.zb0);
        return;
    }
    float s = wg.s0, zb = wg.zb0;
    int g = wg.g0, next = wg.next;
    const int group = static_cast<int>(l.group);
#pragma unroll
    for (int i = 0; i < kCpw; ++i) {
        const int c = c_first + i;
        if (c == next) {
            ++g;
            next += group;
            if (g == wg.g0 + 1) {
                s = wg.s1, zb = wg.zb1;
            } else if (c < cols) {
                s = __ldg(scales + r * l.groups + g);
                zb = kTwo23 + static_cast<float>(__ldg(zeros + r * l.groups + g));
            }
        }
        const float u = code_plus_2_23((word_bits >> (BITS * i)) & kMask) - zb;  // q - z, exact
        w[i] = c < cols ? s * u : 0.0f;
    }
}

template <int BITS, int MT, int NT>
__global__ void __launch_bounds__(kMmaThreads) mma_kernel(const float* __restrict__ x, int64_t tokens,
                                                          const uint32_t* __restrict__ codes, const float* __restrict__ scales,
                                                          const uint8_t* __restrict__ zeros, PeqaLayout l, bool x_vec4,
                                                          float* __restrict__ y) {
    using C = MmaCfg<BITS, MT, NT>;
    extern __shared__ __align__(128) unsigned char smem[];
    float* xs = reinterpret_cast<float*>(smem);                         // (kStages, kBM, kXs) fp32 x slices
    uint32_t* cs = reinterpret_cast<uint32_t*>(xs + kStages * C::kXStage);  // (kStages, kBN, 8) code words
    __nv_bfloat16* ws = reinterpret_cast<__nv_bfloat16*>(cs + kStages * C::kCStage);  // (kBN, kWs) bf16 What
    __nv_bfloat16* xb = ws + C::kBN * C::kWs;                                         // (kBM, kWs) bf16 x

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm0 = (warp >> 2) * 16 * MT, wn0 = (warp & 3) * 8 * NT;
    const int64_t r0 = static_cast<int64_t>(blockIdx.x) * C::kBN, t0 = static_cast<int64_t>(blockIdx.y) * C::kBM;
    const int ktiles = static_cast<int>((l.words + kWordsK - 1) / kWordsK);

    auto load_stage = [&](int stage, int kt) {
        const int64_t k0 = static_cast<int64_t>(kt) * C::kBK, w0 = static_cast<int64_t>(kt) * kWordsK;
        float* xd = xs + stage * C::kXStage;
        if (x_vec4) {  // cols % 4 == 0 and x 16-byte aligned: a 4-column chunk is wholly inside or outside
            for (int i = tid; i < C::kBM * (C::kBK / 4); i += kMmaThreads) {
                const int m = i / (C::kBK / 4), k = (i % (C::kBK / 4)) * 4;
                const int64_t t = t0 + m, c = k0 + k;
                const bool ok = t < tokens && c < l.cols;
                qft::cp_async16_cg(xd + m * C::kXs + k, ok ? x + t * l.cols + c : x, ok ? 16 : 0);
            }
        } else {
            for (int i = tid; i < C::kBM * C::kBK; i += kMmaThreads) {
                const int m = i / C::kBK, k = i % C::kBK;
                const int64_t t = t0 + m, c = k0 + k;
                const bool ok = t < tokens && c < l.cols;
                qft::cp_async4(xd + m * C::kXs + k, ok ? x + t * l.cols + c : x, ok ? 4 : 0);
            }
        }
        uint32_t* cd = cs + stage * C::kCStage;
        for (int i = tid; i < C::kBN * kWordsK; i += kMmaThreads) {
            const int n = i / kWordsK, wi = i % kWordsK;
            const int64_t r = r0 + n, wd = w0 + wi;
            const bool ok = r < l.rows && wd < l.words;
            qft::cp_async4(cd + i, ok ? codes + r * l.words + wd : codes, ok ? 4 : 0);
        }
    };

    // Thread -> decoded words: word wi = tid % 8 of rows tid / 8 + 32 j (a warp: 4 rows x 8 words), all in
    // one column, whose group (g_col, starting at column g_col * group) follows the k steps without dividing.
    WordGroups wg[C::kWordsPerThread];
    const int group = static_cast<int>(l.group);
    int c_col = (tid % kWordsK) * C::kCpw, g_col = c_col / group, g_end = (g_col + 1) * group;
    auto load_groups = [&](int kt) {
        while (g_end <= c_col) ++g_col, g_end += group;
#pragma unroll
        for (int j = 0; j < C::kWordsPerThread; ++j)
            wg[j] = load_word_groups(scales, zeros, l, r0 + tid / kWordsK + 32 * j,
                                     static_cast<int64_t>(kt) * kWordsK + tid % kWordsK, g_col);
        c_col += C::kBK;
    };

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < ktiles) load_stage(s, s);
        qft::cp_async_commit_group();
    }
    load_groups(0);
    const int g = lane >> 2, c2 = (lane & 3) * 2;  // fragment coordinates of m16n8k16
    for (int kt = 0; kt < ktiles; ++kt) {
        qft::cp_async_wait_group<kStages - 2>();
        __syncthreads();  // stage kt visible to all; everyone is done with step kt-1 (its stage and the What tile)
        {
            const int nxt = kt + kStages - 1;
            if (nxt < ktiles) load_stage(nxt % kStages, nxt);
            qft::cp_async_commit_group();
        }
        const uint32_t* cw = cs + (kt % kStages) * C::kCStage;
#pragma unroll
        for (int j = 0; j < C::kWordsPerThread; ++j) {
            const int n = tid / kWordsK + 32 * j, wi = tid % kWordsK;
            float w[C::kCpw];
            decode_word<BITS>(cw[n * kWordsK + wi], (kt * kWordsK + wi) * C::kCpw, wg[j], scales, zeros, l, r0 + n, w);
            uint32_t packed[C::kCpw / 2];
#pragma unroll
            for (int i = 0; i < C::kCpw / 2; ++i) packed[i] = pack_bf16(w[2 * i], w[2 * i + 1]);
            uint32_t* dst = reinterpret_cast<uint32_t*>(ws + n * C::kWs + wi * C::kCpw);
            if constexpr (C::kCpw == 8) {
                *reinterpret_cast<uint4*>(dst) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
            } else {
#pragma unroll
                for (int i = 0; i < C::kCpw / 2; ++i) dst[i] = packed[i];
            }
        }
        // x slice fp32 -> bf16 once for all warps (each warp would otherwise convert its fragments again).
        const float* xa = xs + (kt % kStages) * C::kXStage;
        for (int i = tid; i < C::kBM * (C::kBK / 4); i += kMmaThreads) {
            const int m = i / (C::kBK / 4), k = (i % (C::kBK / 4)) * 4;
            const float4 v = *reinterpret_cast<const float4*>(xa + m * C::kXs + k);
            *reinterpret_cast<uint2*>(xb + m * C::kWs + k) = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
        }
        if (kt + 1 < ktiles) load_groups(kt + 1);
        __syncthreads();  // the What and x tiles are complete

#pragma unroll
        for (int ks = 0; ks < C::kBK / 16; ++ks) {
            uint32_t af[MT][4], bf[NT][2];
#pragma unroll
            for (int i = 0; i < MT; ++i) {
                // x4 matrices: rows 0-7 / 8-15 of the m16 tile at k 0-7, then at k 8-15 (a0..a3 of m16n8k16)
                const int m = wm0 + 16 * i + (lane & 15);
                qft::ldmatrix_x4(af[i], xb + m * C::kWs + ks * 16 + (lane >> 4) * 8);
            }
#pragma unroll
            for (int j = 0; j < NT; j += 2) {
                // x4 matrices: n 0-7 k 0-7, n 0-7 k 8-15, n 8-15 k 0-7, n 8-15 k 8-15 (b0, b1 of two n8 tiles)
                const int n = wn0 + j * 8 + (lane & 7) + (lane >> 4) * 8;
                uint32_t t[4];
                qft::ldmatrix_x4(t, ws + n * C::kWs + ks * 16 + ((lane >> 3) & 1) * 8);
                bf[j][0] = t[0], bf[j][1] = t[1], bf[j + 1][0] = t[2], bf[j + 1][1] = t[3];
            }
#pragma unroll
            for (int i = 0; i < MT; ++i)
#pragma unroll
                for (int j = 0; j < NT; ++j) mma_bf16(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
    }
    qft::cp_async_wait_group<0>();

    // C fragment: c0, c1 at (token g, row 2c, 2c+1), c2, c3 at token g + 8.
    const bool pair_ok = (l.rows & 1) == 0;  // (t * rows + r) even for even r: 8-byte aligned stores
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int64_t t = t0 + wm0 + 16 * i + g + 8 * h, r = r0 + wn0 + 8 * j + c2;
                if (t >= tokens) continue;
                float* dst = y + t * l.rows + r;
                if (pair_ok && r + 1 < l.rows) {
                    *reinterpret_cast<float2*>(dst) = make_float2(acc[i][j][2 * h], acc[i][j][2 * h + 1]);
                } else {
                    if (r < l.rows) dst[0] = acc[i][j][2 * h];
                    if (r + 1 < l.rows) dst[1] = acc[i][j][2 * h + 1];
                }
            }
}

template <int BITS, int MT, int NT>
int launch_mma(const float* x, int64_t tokens, const uint32_t* codes, const float* scales, const uint8_t* zeros,
               const PeqaLayout& l, float* y) {
    using C = MmaCfg<BITS, MT, NT>;
    auto kernel = mma_kernel<BITS, MT, NT>;
    const int64_t gx = qft::ceil_div(l.rows, C::kBN), gy = qft::ceil_div(tokens, C::kBM);
    if (gx > 0x7fffffffLL || gy > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_peqa_matmul: grid (%lld, %lld) exceeds the CUDA limits", (long long)gx,
                             (long long)gy);
    QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::kSmem)));
    const bool x_vec4 = l.cols % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
    kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), kMmaThreads, C::kSmem, qft::stream()>>>(
        x, tokens, codes, scales, zeros, l, x_vec4, y);
    QFT_LAUNCH_CHECK("peqa mma_kernel");
    return QFT_OK;
}

// ---------------------------------------------------------------------------------------------------------------
// GEMV for 1..8 tokens: bound by reading the packed weight from HBM once, so the codes and the x chunk
// stream through a 3-stage cp.async ring in shared memory (32 KB of codes in flight per block without
// holding a register), and each chunk's scales and zero-points are fetched one chunk ahead.

constexpr int kGemvThreads = 256;
constexpr int kGemvRows = 4;                                    // rows per warp: each x value read feeds 4 rows
constexpr int kGemvBlockRows = kGemvRows * kGemvThreads / 32;   // 32 rows per block
constexpr int kGemvIters = 4;                                   // words per lane per chunk
constexpr int kGemvChunkWords = 32 * kGemvIters;                // 128 words per row per chunk
constexpr int kGemvStages = 3;
constexpr int kGemvMaxGroups = 40;  // groups per row per chunk held in shared memory (5 per thread)

template <int BITS>
struct GemvCfg {
    static constexpr int kCpw = 32 / BITS;
    static constexpr int kChunkCols = kGemvChunkWords * kCpw;           // 1024 or 1280 columns
    static constexpr int kPitch = kGemvChunkWords * (kCpw + 1);         // floats per token row of an x chunk
    static constexpr int kCodeWords = kGemvBlockRows * kGemvChunkWords;  // 4096 words (16 KB) per stage
    static constexpr int kGroupSlots = kGemvBlockRows * kGemvMaxGroups;
    static size_t smem(int nt) {
        return kGemvStages * (kCodeWords + static_cast<size_t>(nt) * kPitch) * 4 + 2 * kGroupSlots * 8;
    }
    // Shared-memory groups need every group a chunk's words touch, plus the next: chunk / group + 2 slots.
    static bool groups_fit(int64_t group) { return kChunkCols / group + 2 <= kGemvMaxGroups; }
};

// Shared memory: codes (stages, 32 rows, 128 words); x (stages, tokens, kPitch) with one pad float after every
// word's kCpw columns, so lane l's code i reads column l * (kCpw + 1) + i, and kCpw + 1 = 9 or 11 is odd: 32
// distinct banks; scales and 2^23 + zero-points (2, 32 rows, kGemvMaxGroups) from the chunk's first group on.
// Groups narrower than groups_fit allows are read from global memory instead (small groups, slow path).
template <int BITS>
__global__ void __launch_bounds__(kGemvThreads) gemv_kernel(const float* __restrict__ x, int64_t tokens,
                                                            const uint32_t* __restrict__ codes, const float* __restrict__ scales,
                                                            const uint8_t* __restrict__ zeros, PeqaLayout l, bool groups_in_smem,
                                                            float* __restrict__ y) {
    using C = GemvCfg<BITS>;
    constexpr int kCpw = C::kCpw, kPerThread = C::kGroupSlots / kGemvThreads;
    static_assert(C::kGroupSlots % kGemvThreads == 0, "group slots split evenly over the threads");
    extern __shared__ __align__(128) unsigned char smem[];
    const int nt = static_cast<int>(tokens);
    uint32_t* cs = reinterpret_cast<uint32_t*>(smem);
    float* xs = reinterpret_cast<float*>(cs + kGemvStages * C::kCodeWords);
    float* gsc = xs + kGemvStages * nt * C::kPitch;
    float* gzb = gsc + 2 * C::kGroupSlots;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kGemvBlockRows;
    const int chunks = static_cast<int>((l.words + kGemvChunkWords - 1) / kGemvChunkWords);
    const int group = static_cast<int>(l.group);

    auto stage = [&](int st, int ch) {
        const int64_t w0 = static_cast<int64_t>(ch) * kGemvChunkWords, c0 = w0 * kCpw;
        uint32_t* cd = cs + st * C::kCodeWords;
        for (int i = tid; i < C::kCodeWords; i += kGemvThreads) {
            const int64_t r = r0 + i / kGemvChunkWords, word = w0 + i % kGemvChunkWords;
            const bool ok = r < l.rows && word < l.words;
            qft::cp_async4(cd + i, ok ? codes + r * l.words + word : codes, ok ? 4 : 0);
        }
        float* xd = xs + st * nt * C::kPitch;
        for (int i = tid; i < nt * C::kChunkCols; i += kGemvThreads) {
            const int t = i / C::kChunkCols, k = i % C::kChunkCols;
            const int64_t c = c0 + k;
            const bool ok = c < l.cols;
            qft::cp_async4(xd + t * C::kPitch + k + k / kCpw, ok ? x + t * l.cols + c : x, ok ? 4 : 0);
        }
    };
    float gs_next[kPerThread], gz_next[kPerThread];
    auto load_groups = [&](int ch) {  // registers, stored into shared memory after the current chunk's math
        const int ga = static_cast<int>(static_cast<int64_t>(ch) * C::kChunkCols / group);
#pragma unroll
        for (int q = 0; q < kPerThread; ++q) {
            const int i = tid + kGemvThreads * q, g = ga + i % kGemvMaxGroups;
            const int64_t r = r0 + i / kGemvMaxGroups;
            const bool ok = r < l.rows && g < l.groups;
            gs_next[q] = ok ? __ldg(scales + r * l.groups + g) : 0.0f;
            gz_next[q] = kTwo23 + (ok ? static_cast<float>(__ldg(zeros + r * l.groups + g)) : 0.0f);
        }
    };
    auto store_groups = [&](int buf) {
#pragma unroll
        for (int q = 0; q < kPerThread; ++q) {
            gsc[buf * C::kGroupSlots + tid + kGemvThreads * q] = gs_next[q];
            gzb[buf * C::kGroupSlots + tid + kGemvThreads * q] = gz_next[q];
        }
    };

    float acc[kGemvRows][kGemvTokens];
#pragma unroll
    for (int i = 0; i < kGemvRows; ++i)
#pragma unroll
        for (int t = 0; t < kGemvTokens; ++t) acc[i][t] = 0.0f;

#pragma unroll
    for (int st = 0; st < kGemvStages - 1; ++st) {
        if (st < chunks) stage(st, st);
        qft::cp_async_commit_group();
    }
    if (groups_in_smem) {
        load_groups(0);
        store_groups(0);
    }
    for (int ch = 0; ch < chunks; ++ch) {
        qft::cp_async_wait_group<kGemvStages - 2>();
        __syncthreads();  // chunk ch and its groups visible; everyone is done with chunk ch - 1
        {
            const int nxt = ch + kGemvStages - 1;
            if (nxt < chunks) stage(nxt % kGemvStages, nxt);
            qft::cp_async_commit_group();
        }
        if (groups_in_smem && ch + 1 < chunks) load_groups(ch + 1);
        const uint32_t* cd = cs + (ch % kGemvStages) * C::kCodeWords;
        const float* xd = xs + (ch % kGemvStages) * nt * C::kPitch;
        const int ga = static_cast<int>(static_cast<int64_t>(ch) * C::kChunkCols / group);
        const float* gs = gsc + (ch & 1) * C::kGroupSlots;
        const float* gz = gzb + (ch & 1) * C::kGroupSlots;
#pragma unroll
        for (int it = 0; it < kGemvIters; ++it) {
            const int lw = it * 32 + lane;  // word inside the chunk
            const int64_t word = static_cast<int64_t>(ch) * kGemvChunkWords + lw;
            const int c_first = static_cast<int>(word * kCpw), g0 = c_first / group;
            float w[kGemvRows][kCpw];
#pragma unroll
            for (int i = 0; i < kGemvRows; ++i) {
                const int n = warp * kGemvRows + i;
                WordGroups wg;
                if (groups_in_smem) {
                    const int slot = n * kGemvMaxGroups + g0 - ga;
                    wg = WordGroups{gs[slot], gz[slot], gs[slot + 1], gz[slot + 1], g0, (g0 + 1) * group};
                } else {
                    wg = load_word_groups(scales, zeros, l, r0 + n, word, g0);
                }
                decode_word<BITS>(cd[n * kGemvChunkWords + lw], c_first, wg, scales, zeros, l, r0 + n, w[i]);
            }
            const float* xw = xd + lw * (kCpw + 1);
#pragma unroll
            for (int k = 0; k < kCpw; ++k)
#pragma unroll
                for (int t = 0; t < kGemvTokens; ++t) {
                    if (t < nt) {
                        const float xv = xw[t * C::kPitch + k];
#pragma unroll
                        for (int i = 0; i < kGemvRows; ++i) acc[i][t] = fmaf(xv, w[i][k], acc[i][t]);
                    }
                }
        }
        if (groups_in_smem && ch + 1 < chunks) store_groups((ch + 1) & 1);  // last read in chunk ch - 1
    }
    qft::cp_async_wait_group<0>();
#pragma unroll
    for (int i = 0; i < kGemvRows; ++i)
#pragma unroll
        for (int t = 0; t < kGemvTokens; ++t) {
            float v = acc[i][t];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            const int64_t r = r0 + warp * kGemvRows + i;
            if (lane == 0 && t < nt && r < l.rows) y[t * l.rows + r] = v;
        }
}

// 3-bit decode keeps the kernel this file replaced: one warp per row, each lane decodes whole words and keeps
// one sum per token. At 3 bits the chunked GEMV above measured slower on the H100 (0.12 against 0.08 ms for
// 4096 x 4096, 1 token; bench/results/sparse-add-peqa-h100.md); at 4 bits it is 2.5x faster.
__global__ void __launch_bounds__(kGemvThreads) gemv_row_kernel(const float* __restrict__ x, int64_t tokens,
                                                                const uint32_t* __restrict__ codes,
                                                                const float* __restrict__ scales,
                                                                const uint8_t* __restrict__ zeros, PeqaLayout l,
                                                                float* __restrict__ y) {
    const int lane = threadIdx.x % 32;
    const int64_t r = static_cast<int64_t>(blockIdx.x) * (kGemvThreads / 32) + threadIdx.x / 32;
    if (r >= l.rows) return;
    const uint32_t* qr = codes + r * l.words;
    const float* sr = scales + r * l.groups;
    const uint8_t* zr = zeros + r * l.groups;
    float acc[kGemvTokens] = {};
    for (int64_t i = lane; i < l.words; i += 32) {
        uint32_t v = qr[i];
        int64_t c = i * l.cpw;
        for (int j = 0; j < l.cpw && c < l.cols; ++j, ++c, v >>= l.bits) {
            uint32_t g = static_cast<uint32_t>(c) / static_cast<uint32_t>(l.group);
            float w = sr[g] * (static_cast<float>(v & l.mask) - static_cast<float>(zr[g]));
#pragma unroll
            for (int t = 0; t < kGemvTokens; ++t)
                if (t < tokens) acc[t] += x[t * l.cols + c] * w;
        }
    }
#pragma unroll
    for (int t = 0; t < kGemvTokens; ++t) {
        float s = acc[t];
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0 && t < tokens) y[t * l.rows + r] = s;
    }
}

template <int BITS>
int launch(const float* x, int64_t tokens, const uint32_t* codes, const float* scales, const uint8_t* zeros, const PeqaLayout& l,
           float* y, int smem_max) {
    if (tokens <= kGemvTokens) {
        const int64_t warps_per_block = kGemvThreads / 32, rows_per_block = BITS == 3 ? warps_per_block : kGemvBlockRows;
        const int64_t blocks = qft::ceil_div(l.rows, rows_per_block);
        if (blocks > 0x7fffffffLL)
            return qft_set_error(QFT_EUNSUPPORTED, "qft_peqa_matmul: %lld rows exceed the CUDA grid", (long long)l.rows);
        if constexpr (BITS == 3) {
            gemv_row_kernel<<<static_cast<unsigned>(blocks), kGemvThreads, 0, qft::stream()>>>(x, tokens, codes, scales,
                                                                                               zeros, l, y);
            QFT_LAUNCH_CHECK("peqa gemv_row_kernel");
            return QFT_OK;
        } else {
            const size_t smem = GemvCfg<BITS>::smem(static_cast<int>(tokens));
            if (smem <= static_cast<size_t>(smem_max)) {
                auto kernel = gemv_kernel<BITS>;
                QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
                kernel<<<static_cast<unsigned>(blocks), kGemvThreads, smem, qft::stream()>>>(
                    x, tokens, codes, scales, zeros, l, GemvCfg<BITS>::groups_fit(l.group), y);
                QFT_LAUNCH_CHECK("peqa gemv_kernel");
                return QFT_OK;
            }
        }
    }
    // Few tokens (or a GEMV that does not fit this device's shared memory): a 32 x 64 tile keeps more blocks
    // (and memory streams) going; many: 128 x 128 reuses each decoded weight tile for 128 tokens, where the
    // device has the shared memory for it (sm_80, sm_90; sm_86/89 take the small tile).
    if (tokens > 64 && MmaCfg<BITS, 4, 4>::kSmem <= static_cast<size_t>(smem_max))
        return launch_mma<BITS, 4, 4>(x, tokens, codes, scales, zeros, l, y);
    return launch_mma<BITS, 1, 2>(x, tokens, codes, scales, zeros, l, y);
}

}  // namespace

extern "C" QFT_API int qft_cuda_peqa_matmul(int32_t device, int64_t x, int64_t tokens, int64_t codes, int64_t scales,
                                            int64_t zeros, int64_t rows, int64_t cols, int32_t bits, int64_t group_size,
                                            int64_t y) {
    if (rows == 0 || tokens == 0) return QFT_OK;
    const PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
    if (cols > 0x7fffffffLL - 64)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_peqa_matmul: %lld columns exceed the kernels' 32-bit column index",
                             (long long)cols);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int smem_max = 0;
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    const float* xp = qft::ptr<float>(x);
    const uint32_t* cp = qft::ptr<uint32_t>(codes);
    const float* sp = qft::ptr<float>(scales);
    const uint8_t* zp = qft::ptr<uint8_t>(zeros);
    float* yp = qft::ptr<float>(y);
    return bits == 4 ? launch<4>(xp, tokens, cp, sp, zp, l, yp, smem_max) : launch<3>(xp, tokens, cp, sp, zp, l, yp, smem_max);
}
