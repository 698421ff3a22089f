// fp32 linear-layer products on the GPU: one register-tiled SIMT SGEMM, templated over where the
// reduced index is contiguous in each operand, serves y = x wᵀ, dx = dy w and dw = dyᵀ x. The CPU
// references are in native/cpu/matmul_f32.cpp.
//
// Design (the classic 128x128x8 SIMT SGEMM: Volkov & Demmel 2008, the MAGMA / "maxas" register
// blocking, as walked through in llm.c's matmul kernels and Boehm's "How to optimize a CUDA matmul"):
//   - a block of 256 threads owns a 128x128 tile of C; each thread owns an 8x8 micro-tile made of four
//     4x4 quadrants 64 rows / columns apart, so its shared-memory reads are float4s;
//   - the reduction runs in slices of 8; both operand slices sit in shared memory k-major
//     (As[k][m], Bs[k][n]), so a thread reads 2 float4 of A and 2 float4 of B per k and does 64 FMAs;
//   - the next slice is fetched from global memory into registers (float4 loads where the operand is
//     16-byte aligned) while the current one is multiplied, then stored to the other of two shared
//     buffers: one __syncthreads per slice. An operand whose reduced index is contiguous (x, w in
//     y = x wᵀ) is transposed on that store; rows are padded by 4 floats so the transposing stores
//     hit 32 distinct banks;
//   - tails in every dimension load zeros and store under a bounds check, so any shape works.
// Every output sums the reduction in increasing order with fmaf, one thread per output: results are
// deterministic run to run.
#include "engine.cuh"
#include "matmul_f32.cuh"

namespace {

constexpr int BM = 128, BN = 128, BK = 8;  // block tile (C rows, C columns, reduction slice)
constexpr int kThreads = 256;             // 16 x 16 threads, 8x8 outputs each
constexpr int kLd = BM + 4;               // shared row length (floats): padded against bank conflicts

using Operand = qft::MatOperand;

// One 128 x 8 slice of an operand: 4 floats per thread, fetched to registers, later stored to shared
// memory as s[k][i].
template <bool K_CONTIG>
struct Slice {
    float r[4];

    __device__ __forceinline__ void load(const Operand& o, int64_t rows, int64_t K, int64_t i0, int64_t k0, int tid) {
        if (K_CONTIG) {  // thread -> (row tid/2, 4 consecutive k): two threads read 32 contiguous bytes of a row
            const int64_t gi = i0 + tid / 2, gk = k0 + (tid % 2) * 4;
            const float* src = o.p + gi * o.ld + gk;
            if (o.vec && gi < rows && gk + 3 < K) {
                const float4 v = *reinterpret_cast<const float4*>(src);
                r[0] = v.x, r[1] = v.y, r[2] = v.z, r[3] = v.w;
            } else {
#pragma unroll
                for (int e = 0; e < 4; ++e) r[e] = gi < rows && gk + e < K ? src[e] : 0.0f;
            }
        } else {  // thread -> (k tid/32, 4 consecutive rows): a warp reads 512 contiguous bytes
            const int64_t gk = k0 + tid / 32, gi = i0 + (tid % 32) * 4;
            const float* src = o.p + gk * o.ld + gi;
            if (o.vec && gk < K && gi + 3 < rows) {
                const float4 v = *reinterpret_cast<const float4*>(src);
                r[0] = v.x, r[1] = v.y, r[2] = v.z, r[3] = v.w;
            } else {
#pragma unroll
                for (int e = 0; e < 4; ++e) r[e] = gk < K && gi + e < rows ? src[e] : 0.0f;
            }
        }
    }

    __device__ __forceinline__ void store(float (*s)[kLd], int tid) const {
        if (K_CONTIG) {
            const int i = tid / 2, k = (tid % 2) * 4;
#pragma unroll
            for (int e = 0; e < 4; ++e) s[k + e][i] = r[e];
        } else {
            *reinterpret_cast<float4*>(&s[tid / 32][(tid % 32) * 4]) = make_float4(r[0], r[1], r[2], r[3]);
        }
    }
};

// C (M, N) row-major (+)= A (M, K) · B (K, N); A_K: A's k is contiguous; B_K: B's k is contiguous.
template <bool A_K, bool B_K>
__global__ void __launch_bounds__(kThreads, 2) sgemm_kernel(Operand A, Operand B, float* __restrict__ C, int64_t M, int64_t N,
                                                            int64_t K, int32_t accumulate) {
    __shared__ __align__(16) float As[2][BK][kLd];
    __shared__ __align__(16) float Bs[2][BK][kLd];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    // A warp covers 4 x 8 threads (32 x 64 outputs of each quadrant): its float4 reads touch 4 distinct
    // addresses of A and 8 of B per k, fewer shared-memory wavefronts than a 2 x 16 arrangement.
    const int ty = (warp / 2) * 4 + lane / 8, tx = (warp % 2) * 8 + lane % 8;
    const int64_t m0 = blockIdx.y * (int64_t)BM, n0 = blockIdx.x * (int64_t)BN;
    const int64_t nk = (K + BK - 1) / BK;

    Slice<A_K> la;
    Slice<B_K> lb;
    la.load(A, M, K, m0, 0, tid);
    lb.load(B, N, K, n0, 0, tid);
    la.store(As[0], tid);
    lb.store(Bs[0], tid);
    __syncthreads();

    float acc[8][8] = {};  // rows ty*4 + {0..3}, 64 + ty*4 + {0..3}; columns likewise with tx
    for (int64_t kt = 0; kt < nk; ++kt) {
        const int cur = kt & 1;
        if (kt + 1 < nk) {
            la.load(A, M, K, m0, (kt + 1) * BK, tid);
            lb.load(B, N, K, n0, (kt + 1) * BK, tid);
        }
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][kk][ty * 4]);
            const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][kk][64 + ty * 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][kk][tx * 4]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][kk][64 + tx * 4]);
            const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (kt + 1 < nk) {
            la.store(As[cur ^ 1], tid);
            lb.store(Bs[cur ^ 1], tid);
        }
        __syncthreads();
    }

    const bool vec_c = N % 4 == 0 && reinterpret_cast<uintptr_t>(C) % 16 == 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int64_t gm = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
        if (gm >= M) continue;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int64_t gn = n0 + half * 64 + tx * 4;
            float* c = C + gm * N + gn;
            const float* v = &acc[i][half * 4];
            if (vec_c && gn + 3 < N) {
                float4 o = make_float4(v[0], v[1], v[2], v[3]);
                if (accumulate) {
                    const float4 old = *reinterpret_cast<const float4*>(c);
                    o.x += old.x, o.y += old.y, o.z += old.z, o.w += old.w;
                }
                *reinterpret_cast<float4*>(c) = o;
            } else {
#pragma unroll
                for (int j = 0; j < 4; ++j)
                    if (gn + j < N) c[j] = accumulate ? c[j] + v[j] : v[j];
            }
        }
    }
}

constexpr qft::MatForm form_of(bool a_k, bool b_k) { return a_k ? (b_k ? qft::MatForm::NT : qft::MatForm::NN) : qft::MatForm::TN; }

template <bool A_K, bool B_K>
int sgemm(const char* fn, int32_t device, int32_t math, Operand A, Operand B, int64_t c, int64_t M, int64_t N, int64_t K,
          int32_t accumulate) {
    if (math == QFT_MATH_TF32) return qft::matmul_f32_tf32(fn, device, form_of(A_K, B_K), A, B, c, M, N, K, accumulate);
    if (M == 0 || N == 0) return QFT_OK;
    static_assert(BM == BN, "square output tiles");
    dim3 grid;
    if (int st = qft::tile_grid(fn, M, N, BM, grid)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    sgemm_kernel<A_K, B_K><<<grid, kThreads, 0, qft::stream()>>>(A, B, qft::ptr<float>(c), M, N, K, accumulate);
    QFT_LAUNCH_CHECK("sgemm_kernel");
    return QFT_OK;
}

}  // namespace

// y (n, out) (+)= x (n, in) · w (out, in)ᵀ: both operands have the reduced index `in` contiguous.
extern "C" QFT_API int qft_cuda_matmul_f32_nt(int32_t device, int64_t x, int64_t w, int64_t n, int64_t out, int64_t in, int64_t y,
                                              int32_t accumulate, int32_t math) {
    using qft::mat_operand;
    return sgemm<true, true>("qft_matmul_f32_nt", device, math, mat_operand(x, in), mat_operand(w, in), y, n, out, in, accumulate);
}

// dx (n, in) (+)= dy (n, out) · w (out, in): dy has the reduced `out` contiguous, w has the result's `in`.
extern "C" QFT_API int qft_cuda_matmul_f32_nn(int32_t device, int64_t dy, int64_t w, int64_t n, int64_t out, int64_t in,
                                              int64_t dx, int32_t accumulate, int32_t math) {
    using qft::mat_operand;
    return sgemm<true, false>("qft_matmul_f32_nn", device, math, mat_operand(dy, out), mat_operand(w, in), dx, n, in, out, accumulate);
}

// dw (out, in) (+)= dy (n, out)ᵀ · x (n, in): the reduced `n` is the row index of both operands.
extern "C" QFT_API int qft_cuda_matmul_f32_tn(int32_t device, int64_t dy, int64_t x, int64_t n, int64_t out, int64_t in,
                                              int64_t dw, int32_t accumulate, int32_t math) {
    using qft::mat_operand;
    return sgemm<false, false>("qft_matmul_f32_tn", device, math, mat_operand(dy, out), mat_operand(x, in), dw, out, in, n, accumulate);
}
