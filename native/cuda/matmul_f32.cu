// fp32 linear-layer products on the GPU: one shared-memory tiled SGEMM over strided operands serves
// y = x wᵀ, dx = dy w and dw = dyᵀ x. The CPU references are in native/cpu/matmul_f32.cpp.
// Tiles of 64x64 outputs, 16-deep slices of the reduction, 256 threads each computing a 4x4 block
// (after llm.c's early `matmul_forward` kernels and the classic Volkov/SGEMM register tiling); every
// output sums the reduction in increasing order, so results are deterministic. Correctness over speed:
// no cuBLAS is linked, and the int8 path (int8_matmul.cu) is where throughput matters.
#include "engine.cuh"

namespace {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4;
constexpr int kThreads = (BM / TM) * (BN / TN);

// Element (r, c) of a logical matrix lives at p[r * rs + c * cs].
struct Operand {
    const float* p;
    int64_t rs, cs;
};

// C (M, N) row-major (+)= A (M, K) · B (K, N).
__global__ void __launch_bounds__(kThreads) sgemm_kernel(Operand A, Operand B, float* __restrict__ C, int64_t M, int64_t N,
                                                         int64_t K, int32_t accumulate) {
    __shared__ float As[BK][BM + 4];
    __shared__ float Bs[BK][BN + 4];
    const int tid = threadIdx.x, tx = tid % (BN / TN), ty = tid / (BN / TN);
    const int64_t m0 = blockIdx.y * (int64_t)BM, n0 = blockIdx.x * (int64_t)BN;
    float acc[TM][TN] = {};
    for (int64_t k0 = 0; k0 < K; k0 += BK) {
        // Consecutive threads walk the operand's unit-stride dimension, so loads coalesce.
        for (int e = tid; e < BM * BK; e += kThreads) {
            const int m = A.cs == 1 ? e / BK : e % BM, kk = A.cs == 1 ? e % BK : e / BM;
            const int64_t gm = m0 + m, gk = k0 + kk;
            As[kk][m] = gm < M && gk < K ? A.p[gm * A.rs + gk * A.cs] : 0.0f;
        }
        for (int e = tid; e < BN * BK; e += kThreads) {
            const int nn = B.rs == 1 ? e / BK : e % BN, kk = B.rs == 1 ? e % BK : e / BN;
            const int64_t gn = n0 + nn, gk = k0 + kk;
            Bs[kk][nn] = gn < N && gk < K ? B.p[gk * B.rs + gn * B.cs] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = As[kk][ty * TM + i];
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx * TN + j];
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int64_t gm = m0 + ty * TM + i, gn = n0 + tx * TN + j;
            if (gm < M && gn < N) C[gm * N + gn] = accumulate ? C[gm * N + gn] + acc[i][j] : acc[i][j];
        }
}

int sgemm(const char* fn, int32_t device, Operand A, Operand B, float* C, int64_t M, int64_t N, int64_t K, int32_t accumulate) {
    if (M == 0 || N == 0) return QFT_OK;
    const int64_t gx = qft::ceil_div(N, BN), gy = qft::ceil_div(M, BM);
    if (gx > 0x7fffffffLL || gy > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: a (%lld, %lld) result exceeds the CUDA grid limit", fn, (long long)M,
                             (long long)N);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    sgemm_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), kThreads, 0, qft::stream()>>>(A, B, C, M, N, K,
                                                                                                             accumulate);
    QFT_LAUNCH_CHECK("sgemm_kernel");
    return QFT_OK;
}

}  // namespace

// y (n, out) (+)= x (n, in) · w (out, in)ᵀ
extern "C" QFT_API int qft_cuda_matmul_f32_nt(int32_t device, int64_t x, int64_t w, int64_t n, int64_t out, int64_t in, int64_t y,
                                              int32_t accumulate) {
    return sgemm("qft_matmul_f32_nt", device, Operand{qft::ptr<const float>(x), in, 1}, Operand{qft::ptr<const float>(w), 1, in},
                 qft::ptr<float>(y), n, out, in, accumulate);
}

// dx (n, in) (+)= dy (n, out) · w (out, in)
extern "C" QFT_API int qft_cuda_matmul_f32_nn(int32_t device, int64_t dy, int64_t w, int64_t n, int64_t out, int64_t in,
                                              int64_t dx, int32_t accumulate) {
    return sgemm("qft_matmul_f32_nn", device, Operand{qft::ptr<const float>(dy), out, 1}, Operand{qft::ptr<const float>(w), in, 1},
                 qft::ptr<float>(dx), n, in, out, accumulate);
}

// dw (out, in) (+)= dy (n, out)ᵀ · x (n, in)
extern "C" QFT_API int qft_cuda_matmul_f32_tn(int32_t device, int64_t dy, int64_t x, int64_t n, int64_t out, int64_t in,
                                              int64_t dw, int32_t accumulate) {
    return sgemm("qft_matmul_f32_tn", device, Operand{qft::ptr<const float>(dy), 1, out}, Operand{qft::ptr<const float>(x), in, 1},
                 qft::ptr<float>(dw), out, in, n, accumulate);
}
