// fp32 linear-layer products on tensor cores (QFT_MATH_TF32): the same three forms as the SIMT SGEMM in
// matmul_f32.cu, with every operand rounded to TF32 and the products summed in fp32 by
// mma.sync.m16n8k8.tf32 (sm_80+). The CPU reference is native/cpu/matmul_f32.cpp with math = TF32, which
// rounds with the same qft::tf32_round; the two differ only in the order (and the tensor cores' internal
// rounding) of the fp32 sums.
//
// Design (the Ampere mma.sync GEMM of CUTLASS's "multistage" kernels, reduced to its core):
//   - a block of 256 threads owns a 128x128 tile of C; its 8 warps are 2 (rows) x 4 (columns), each warp a
//     64x32 sub-tile = 4 x 4 mma tiles of 16x8, 64 fp32 accumulators per thread;
//   - the reduction runs in slices of 16 (two mma k-steps of 8), double-buffered in shared memory and fetched
//     with cp.async, so global loads never pass through registers. Each operand keeps its global layout in
//     shared memory: an operand whose reduced index is contiguous as s[row][k] with rows of 16 + 4 floats,
//     the other as s[k][row] with rows of 128 + 8 floats. Both paddings make the fragment reads of a warp
//     (rows g = lane/4, k = lane%4, PTX ISA "Matrix fragments for mma.m16n8k8" .tf32) hit 32 distinct banks;
//   - after a slice lands, each thread rounds the 16-byte chunks it fetched to TF32 in place, so every operand
//     is rounded once (not once per warp that reads it) and exactly as the CPU reference rounds it;
//   - on interior tiles of 16-byte-aligned operands a slice's fetch is two cp.async per thread and operand from a
//     running address (Tile::fetch_interior); edge tiles, K tails and unaligned operands check every bound;
//   - tails load zeros (cp.async with fewer source bytes zero-fills) and store under a bounds check.
// Results are deterministic run to run (a fixed schedule of fixed instructions), not bit-equal to the CPU.
#include "../common/tf32.h"
#include "cp_async.cuh"
#include "engine.cuh"
#include "matmul_f32.cuh"
#include "mma_tf32.cuh"

namespace {

constexpr int BM = 128, BN = 128, BK = 16;
constexpr int kThreads = 256;
constexpr int kLdK = BK + 4;   // floats per row of a k-contiguous operand tile s[row][k]
constexpr int kLdR = BM + 8;   // floats per row of a row-contiguous operand tile s[k][row]
constexpr int kTileFloats = BM * kLdK > BK * kLdR ? BM * kLdK : BK * kLdR;

// One operand's 128 x 16 tile: element (i, k) of the block's rows i0.. and reduced indices k0.. .
template <bool K_CONTIG>
struct Tile {
    static __device__ __forceinline__ float& at(float* s, int i, int k) { return K_CONTIG ? s[i * kLdK + k] : s[k * kLdR + i]; }

    // Chunk c (0..511) of the tile: 4 floats along the contiguous index. Two per thread.
    static __device__ __forceinline__ void chunk(int c, int& i, int& k) {
        if (K_CONTIG) i = c / 4, k = (c % 4) * 4;
        else k = c / 32, i = (c % 32) * 4;
    }

    static __device__ __forceinline__ void fetch(float* s, const qft::MatOperand& o, int64_t rows, int64_t K, int64_t i0, int64_t k0,
                                                 int tid) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            int i, k;
            chunk(tid + h * kThreads, i, k);
            const int64_t gi = i0 + i, gk = k0 + k;
            // Elements left along the contiguous index (<= 0: none), and whether the chunk's row exists.
            const int64_t left = K_CONTIG ? K - gk : rows - gi;
            const bool row_ok = K_CONTIG ? gi < rows : gk < K;
            const float* src = o.p + (K_CONTIG ? gi * o.ld + gk : gk * o.ld + gi);
            float* dst = &at(s, i, k);  // the chunk's 4 floats are contiguous in either layout
            if (o.vec) {
                const int bytes = !row_ok || left <= 0 ? 0 : left >= 4 ? 16 : static_cast<int>(left) * 4;
                qft::cp_async16_cg(dst, bytes ? src : o.p, bytes);
            } else {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const bool ok = row_ok && e < left;
                    qft::cp_async4(dst + e, ok ? src + e : o.p, ok ? 4 : 0);
                }
            }
        }
    }

    // Where this thread's chunk 0 of slice 0 starts, for fetch_interior.
    static __device__ __forceinline__ const float* stream(const qft::MatOperand& o, int64_t i0, int tid) {
        int i, k;
        chunk(tid, i, k);
        return o.p + (K_CONTIG ? (i0 + i) * o.ld + k : k * o.ld + i0 + i);
    }

    // The next slice of an interior tile (fetch's bounds all hold) from src, which it advances by BK along k: two
    // cp.async and an increment per thread, where fetch's bounds arithmetic costs about as many instructions per
    // slice as the slice's 32 mma (SASS, session 7). Chunk 1 (c + 256) is 64 rows below chunk 0 (k-contiguous)
    // or 8 k further (row-contiguous), so one address register serves both.
    static __device__ __forceinline__ void fetch_interior(float* s, const qft::MatOperand& o, const float*& src, int tid) {
        constexpr int kChunk1 = K_CONTIG ? kThreads / 4 : kThreads / 32;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            int i, k;
            chunk(tid + h * kThreads, i, k);
            qft::cp_async16_cg(&at(s, i, k), src + h * kChunk1 * o.ld, 16);
        }
        src += K_CONTIG ? BK : BK * o.ld;
    }

    // Rounds to TF32 the chunks this thread fetched (after they landed).
    static __device__ __forceinline__ void round(float* s, int tid) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            int i, k;
            chunk(tid + h * kThreads, i, k);
#pragma unroll
            for (int e = 0; e < 4; ++e) (&at(s, i, k))[e] = qft::tf32_round((&at(s, i, k))[e]);
        }
    }
};

__device__ __forceinline__ uint32_t bits(float v) { return __float_as_uint(v); }

// The reduction over K into this thread's accumulators. Interior: every operand chunk of every slice exists and
// is 16-byte aligned (the block's rows and columns are inside M and N, K % BK == 0, both operands vec), so slices
// come from fetch_interior; a separate instantiation keeps the interior loop free of the bounds arithmetic's
// registers (with both in one loop ptxas spilled at the 128-register cap of two blocks per SM).
template <bool Interior, bool A_K, bool B_K>
__device__ __forceinline__ void reduce_k(float (&acc)[4][4][4], float (&As)[2][kTileFloats], float (&Bs)[2][kTileFloats],
                                         const qft::MatOperand& A, const qft::MatOperand& B, int64_t M, int64_t N, int64_t K, int64_t m0,
                                         int64_t n0) {
    using TA = Tile<A_K>;
    using TB = Tile<B_K>;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp % 2) * 64, wn = (warp / 2) * 32;  // the warp's sub-tile
    const int64_t nk = (K + BK - 1) / BK;
    const float* sa = Interior ? TA::stream(A, m0, tid) : nullptr;
    const float* sb = Interior ? TB::stream(B, n0, tid) : nullptr;
    auto fetch = [&](int buf, int64_t k0) {
        if (Interior) {
            TA::fetch_interior(As[buf], A, sa, tid);
            TB::fetch_interior(Bs[buf], B, sb, tid);
        } else {
            TA::fetch(As[buf], A, M, K, m0, k0, tid);
            TB::fetch(Bs[buf], B, N, K, n0, k0, tid);
        }
        qft::cp_async_commit_group();
    };

    if (nk > 0) fetch(0, 0);
    for (int64_t kt = 0; kt < nk; ++kt) {
        const int cur = kt & 1;
        if (kt + 1 < nk) {  // the other buffer was last read before the previous iteration's closing barrier
            fetch(cur ^ 1, (kt + 1) * BK);
            qft::cp_async_wait_group<1>();
        } else {
            qft::cp_async_wait_group<0>();
        }
        TA::round(As[cur], tid);
        TB::round(Bs[cur], tid);
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 8) {
            uint32_t a[4][4], b[4][2];
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                const int r = wm + mi * 16 + g;
                a[mi][0] = bits(TA::at(As[cur], r, kk + t));
                a[mi][1] = bits(TA::at(As[cur], r + 8, kk + t));
                a[mi][2] = bits(TA::at(As[cur], r, kk + t + 4));
                a[mi][3] = bits(TA::at(As[cur], r + 8, kk + t + 4));
            }
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                const int c = wn + ni * 8 + g;
                b[ni][0] = bits(TB::at(Bs[cur], c, kk + t));
                b[ni][1] = bits(TB::at(Bs[cur], c, kk + t + 4));
            }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) qft::mma_m16n8k8_tf32(acc[mi][ni], a[mi], b[ni]);
        }
        __syncthreads();
    }
}

// C (M, N) row-major (+)= A (M, K) · B (K, N); A_K: A's k is contiguous; B_K: B's k is contiguous (B is
// addressed by (column of C, k), as in matmul_f32.cu).
template <bool A_K, bool B_K>
__global__ void __launch_bounds__(kThreads, 2) tf32_gemm_kernel(qft::MatOperand A, qft::MatOperand B, float* __restrict__ C, int64_t M,
                                                                int64_t N, int64_t K, int32_t accumulate) {
    __shared__ __align__(16) float As[2][kTileFloats];
    __shared__ __align__(16) float Bs[2][kTileFloats];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp % 2) * 64, wn = (warp / 2) * 32;  // the warp's sub-tile
    const int64_t m0 = blockIdx.y * (int64_t)BM, n0 = blockIdx.x * (int64_t)BN;

    float acc[4][4][4] = {};  // [m tile][n tile][fragment]
    if (A.vec && B.vec && m0 + BM <= M && n0 + BN <= N && K % BK == 0)
        reduce_k<true, A_K, B_K>(acc, As, Bs, A, B, M, N, K, m0, n0);
    else
        reduce_k<false, A_K, B_K>(acc, As, Bs, A, B, M, N, K, m0, n0);

    // Fragment element e of tile (mi, ni): row g + 8 (e / 2), column 2 t + e % 2.
    const bool vec_c = N % 2 == 0 && reinterpret_cast<uintptr_t>(C) % 8 == 0;
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int64_t gm = m0 + wm + mi * 16 + g + half * 8;
            if (gm >= M) continue;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                const int64_t gn = n0 + wn + ni * 8 + 2 * t;
                float* c = C + gm * N + gn;
                const float v0 = acc[mi][ni][half * 2], v1 = acc[mi][ni][half * 2 + 1];
                if (vec_c && gn + 1 < N) {
                    float2 o = make_float2(v0, v1);
                    if (accumulate) {
                        const float2 old = *reinterpret_cast<const float2*>(c);
                        o.x += old.x, o.y += old.y;
                    }
                    *reinterpret_cast<float2*>(c) = o;
                } else {
                    if (gn < N) c[0] = accumulate ? c[0] + v0 : v0;
                    if (gn + 1 < N) c[1] = accumulate ? c[1] + v1 : v1;
                }
            }
        }
}

template <bool A_K, bool B_K>
int launch(const char* fn, int32_t device, qft::MatOperand A, qft::MatOperand B, int64_t c, int64_t M, int64_t N, int64_t K,
           int32_t accumulate) {
    static_assert(BM == BN, "square output tiles");
    dim3 grid;
    if (int st = qft::tile_grid(fn, M, N, BM, grid)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    tf32_gemm_kernel<A_K, B_K><<<grid, kThreads, 0, qft::stream()>>>(A, B, qft::ptr<float>(c), M, N, K, accumulate);
    QFT_LAUNCH_CHECK("tf32_gemm_kernel");
    return QFT_OK;
}

}  // namespace

namespace qft {

int matmul_f32_tf32(const char* fn, int32_t device, MatForm form, MatOperand A, MatOperand B, int64_t c, int64_t M, int64_t N, int64_t K,
                    int32_t accumulate) {
    if (M == 0 || N == 0) return QFT_OK;
    switch (form) {
        case MatForm::NT: return launch<true, true>(fn, device, A, B, c, M, N, K, accumulate);
        case MatForm::NN: return launch<true, false>(fn, device, A, B, c, M, N, K, accumulate);
        case MatForm::TN: return launch<false, false>(fn, device, A, B, c, M, N, K, accumulate);
    }
    return qft_set_error(QFT_EINTERNAL, "%s: unknown matmul form", fn);
}

}  // namespace qft
