// INT8 matmul on the GPU, part 1: the mma.sync IMMA kernel (sm_80+) and the entry point
// qft_cuda_int8_matmul that pads K, splits it into chunks, picks the kernel and tile, and reports its name.
// The CPU reference is int8_matmul_ref in native/cpu/int8_matmul.cpp; int32 results agree bit for bit.
//
// Kernel: block tile BM x BN over a 64-byte K slice, STAGES-deep cp.async pipeline (zero-fill for tails),
// warps of WM x WN each, fragments loaded with ldmatrix.x4 and fed to mma.sync.m16n8k32.s8.s8.s32
// (PTX ISA "Warp-level matrix multiply-accumulate", fragment layouts of m16n8k32 for .s8). Each shared
// tile row is 64 bytes = four 16-byte chunks; chunk c of row r is stored at chunk c ^ ((r >> 1) & 3), so
// the 8 rows one ldmatrix phase reads fall in 8 distinct bank groups (no conflicts).
#include <cstring>

#include "int8_matmul.cuh"

namespace qft {
namespace {

constexpr int kBK = 64;  // bytes of K per pipeline stage

__device__ __forceinline__ int swz(int r, int c) { return r * kBK + ((c ^ ((r >> 1) & 3)) << 4); }

__device__ __forceinline__ void mma_s8(int32_t (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <int BM, int BN, int WM, int WN, int STAGES>
struct MmaTile {
    static constexpr int kWarpsN = BN / WN, kThreads = (BM / WM) * kWarpsN * 32;
    static constexpr int kMI = WM / 16, kNI = WN / 8;
    static constexpr int kSmem = STAGES * (BM + BN) * kBK;
};

template <int BM, int BN, int WM, int WN, int STAGES>
__global__ void __launch_bounds__(MmaTile<BM, BN, WM, WN, STAGES>::kThreads)
    mma_kernel(const int8_t* __restrict__ A, const int8_t* __restrict__ B, int64_t M, int64_t N, int64_t lda, int64_t k_begin,
               int64_t k_end, EpiParams ep) {
    using T = MmaTile<BM, BN, WM, WN, STAGES>;
    extern __shared__ __align__(128) int8_t smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm0 = (warp / T::kWarpsN) * WM, wn0 = (warp % T::kWarpsN) * WN;
    const int64_t bm0 = int64_t(blockIdx.y) * BM, bn0 = int64_t(blockIdx.x) * BN;
    const int ktiles = static_cast<int>((k_end - k_begin + kBK - 1) / kBK);

    auto load = [&](int stage, int kt) {
        int8_t* sa = smem + stage * (BM + BN) * kBK;
        int8_t* sb = sa + BM * kBK;
        const int64_t k0 = k_begin + int64_t(kt) * kBK;
#pragma unroll
        for (int i = tid; i < (BM + BN) * 4; i += T::kThreads) {
            const bool is_a = i < BM * 4;
            const int r = (is_a ? i : i - BM * 4) >> 2, c = i & 3;
            const int64_t row = (is_a ? bm0 : bn0) + r, k = k0 + c * 16;
            const bool ok = row < (is_a ? M : N) && k < k_end;
            const int8_t* src = ok ? (is_a ? A : B) + row * lda + k : (is_a ? A : B);
            cp_async16_cg((is_a ? sa : sb) + swz(r, c), src, ok ? 16 : 0);
        }
    };

    int32_t acc[T::kMI][T::kNI][4];
#pragma unroll
    for (int i = 0; i < T::kMI; ++i)
#pragma unroll
        for (int j = 0; j < T::kNI; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < ktiles) load(s, s);
        cp_async_commit_group();
    }
    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait_group<STAGES - 2>();
        __syncthreads();  // stage kt is visible to all; stage kt-1 is no longer read by anyone
        const int next = kt + STAGES - 1;
        if (next < ktiles) load(next % STAGES, next);
        cp_async_commit_group();

        const int8_t* sa = smem + (kt % STAGES) * (BM + BN) * kBK;
        const int8_t* sb = sa + BM * kBK;
#pragma unroll
        for (int ks = 0; ks < kBK / 32; ++ks) {
            uint32_t af[T::kMI][4], bf[T::kNI][2];
#pragma unroll
            for (int i = 0; i < T::kMI; ++i) {
                // x4 matrices: rows 0-7 / 8-15 of the m16 tile, k bytes 0-15 / 16-31 (a0..a3 of m16n8k32)
                const int r = wm0 + i * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
                qft::ldmatrix_x4(af[i], sa + swz(r, ks * 2 + (lane >> 4)));
            }
#pragma unroll
            for (int j = 0; j < T::kNI; j += 2) {
                // x4 matrices: n 0-7 k 0-15, n 0-7 k 16-31, n 8-15 k 0-15, n 8-15 k 16-31 (b0, b1 of two n8 tiles)
                const int r = wn0 + j * 8 + (lane & 7) + (lane >> 4) * 8;
                uint32_t t[4];
                qft::ldmatrix_x4(t, sb + swz(r, ks * 2 + ((lane >> 3) & 1)));
                bf[j][0] = t[0];
                bf[j][1] = t[1];
                bf[j + 1][0] = t[2];
                bf[j + 1][1] = t[3];
            }
#pragma unroll
            for (int i = 0; i < T::kMI; ++i)
#pragma unroll
                for (int j = 0; j < T::kNI; ++j) mma_s8(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
    }
    cp_async_wait_group<0>();

    // C fragment of m16n8: c0, c1 at (g, 2t), (g, 2t+1); c2, c3 at row g + 8.
    const int g = lane >> 2, t2 = (lane & 3) * 2;
#pragma unroll
    for (int i = 0; i < T::kMI; ++i)
#pragma unroll
        for (int j = 0; j < T::kNI; ++j) {
            const int64_t m = bm0 + wm0 + i * 16 + g, n = bn0 + wn0 + j * 8 + t2;
            epilogue_store(ep, m, n, acc[i][j][0]);
            epilogue_store(ep, m, n + 1, acc[i][j][1]);
            epilogue_store(ep, m + 8, n, acc[i][j][2]);
            epilogue_store(ep, m + 8, n + 1, acc[i][j][3]);
        }
}

template <int BM, int BN, int WM, int WN, int STAGES>
int launch_mma_tile(const MatmulLaunch& L) {
    using T = MmaTile<BM, BN, WM, WN, STAGES>;
    auto kernel = mma_kernel<BM, BN, WM, WN, STAGES>;
    QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmem));
    const int64_t gx = ceil_div(L.N, BN), gy = ceil_div(L.M, BM);
    if (gy > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_int8_matmul: M = %lld needs %lld row tiles, over the grid limit 65535",
                             (long long)L.M, (long long)gy);
    kernel<<<dim3(unsigned(gx), unsigned(gy)), T::kThreads, T::kSmem, stream()>>>(L.a, L.b, L.M, L.N, L.lda, L.k_begin, L.k_end, L.ep);
    QFT_LAUNCH_CHECK("mma_kernel");
    return QFT_OK;
}

}  // namespace

// Tile per shape: the 128x256 tile (most reuse per byte loaded) when it still gives every SM two blocks,
// 128x128 when that fills the SMs once, otherwise 64x64 so that small or skinny products use more SMs.
int launch_mma(const MatmulLaunch& L, const char** name) {
    const int64_t sms = L.sm_count;
    if (ceil_div(L.M, 128) * ceil_div(L.N, 256) >= 2 * sms) {
        *name = "cuda-mma-128x256x64";
        return launch_mma_tile<128, 256, 64, 64, 3>(L);
    }
    if (ceil_div(L.M, 128) * ceil_div(L.N, 128) >= sms) {
        *name = "cuda-mma-128x128x64";
        return launch_mma_tile<128, 128, 64, 32, 4>(L);
    }
    *name = "cuda-mma-64x64x64";
    return launch_mma_tile<64, 64, 32, 32, 4>(L);
}

}  // namespace qft

namespace {

// Copies a (rows, K) int8 matrix into a zero-padded (rows, Kp) one, Kp = K rounded up to 16, so that every
// row starts 16-byte aligned for cp.async; the zeros add nothing to the sums.
int pad_k(const int8_t* src, int64_t rows, int64_t K, int64_t Kp, int8_t** out) {
    QFT_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(out), size_t(rows * Kp), qft::stream()));
    QFT_CUDA_CHECK(cudaMemsetAsync(*out, 0, size_t(rows * Kp), qft::stream()));
    if (K > 0 && rows > 0)
        QFT_CUDA_CHECK(cudaMemcpy2DAsync(*out, size_t(Kp), src, size_t(K), size_t(K), size_t(rows), cudaMemcpyDeviceToDevice, qft::stream()));
    return QFT_OK;
}

struct DeviceBuffers {
    int8_t* a = nullptr;
    int8_t* b = nullptr;
    float* partial = nullptr;
    ~DeviceBuffers() {
        if (a) cudaFreeAsync(a, qft::stream());
        if (b) cudaFreeAsync(b, qft::stream());
        if (partial) cudaFreeAsync(partial, qft::stream());
    }
};

bool mma_available(int device) {
    int major = 0;
    return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess && major >= 8;
}

}  // namespace

extern "C" QFT_API int32_t qft_cuda_int8_matmul_has_kernel(int32_t device, int32_t kernel) {
    if (cudaSetDevice(device) != cudaSuccess) return 0;
    if (kernel == QFT_MM_CUDA_WGMMA) return qft::wgmma_available(device);
    if (kernel == QFT_MM_CUDA_TMA) return qft::tma_available(device);
    return (kernel == QFT_MM_CUDA_MMA || kernel == QFT_MM_AUTO) && mma_available(device);
}

// i32_out = 1: y is the (M,N) int32 product (K <= MAX_EXACT_K, checked by the caller); the scale, bias and
// dtype arguments are ignored. *name receives the kernel's name.
extern "C" QFT_API int qft_cuda_int8_matmul(int32_t device, int32_t kernel, int64_t a, int64_t row_scale, int64_t b, int64_t col_scale,
                                            int64_t bias, int64_t y, int32_t out_dtype, int32_t accumulate, int64_t M, int64_t N,
                                            int64_t K, int32_t i32_out, const char** name) {
    const char* fn = i32_out ? "qft_int8_matmul_i32" : "qft_int8_matmul";
    QFT_CUDA_CHECK(cudaSetDevice(device));
    // AUTO: the TMA kernel; the cp.async wgmma kernel when the driver cannot encode tensor maps (the name that
    // qft_int8_matmul_last_kernel reports, and Int8Matmul logs, says which one ran); mma.sync before Hopper.
    if (kernel == QFT_MM_AUTO)
        kernel = qft::tma_available(device) ? QFT_MM_CUDA_TMA : qft::wgmma_available(device) ? QFT_MM_CUDA_WGMMA : QFT_MM_CUDA_MMA;
    if (kernel == QFT_MM_CUDA_WGMMA && !qft::wgmma_available(device))
        return qft_set_error(QFT_EUNSUPPORTED, "%s: the wgmma kernel needs an sm_90 GPU and the sm90 CUDA library (loaded: %s)", fn,
                             QFT4J_CUDA_TARGET);
    if (kernel == QFT_MM_CUDA_TMA && !qft::tma_available(device))
        return qft_set_error(QFT_EUNSUPPORTED,
                             "%s: the TMA kernel needs an sm_90 GPU, the sm90 CUDA library (loaded: %s) and a driver with cuTensorMapEncodeTiled",
                             fn, QFT4J_CUDA_TARGET);
    if (!mma_available(device)) return qft_set_error(QFT_EUNSUPPORTED, "%s: cuda:%d is older than sm_80 (no INT8 mma.sync)", fn, device);
    if (M == 0 || N == 0) {
        *name = "cuda-empty";
        return QFT_OK;
    }
    qft::MatmulLaunch L{};
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&L.sm_count, cudaDevAttrMultiProcessorCount, device));
    L.M = M;
    L.N = N;
    L.a = qft::ptr<const int8_t>(a);
    L.b = qft::ptr<const int8_t>(b);
    const int64_t Kp = (K + 15) / 16 * 16;
    L.lda = Kp;
    DeviceBuffers buf;
    if (Kp > 0 && (Kp != K || (a & 15) != 0 || (b & 15) != 0)) {
        if (int st = pad_k(L.a, M, K, Kp, &buf.a)) return st;
        if (int st = pad_k(L.b, N, K, Kp, &buf.b)) return st;
        L.a = buf.a;
        L.b = buf.b;
    }
    qft::EpiParams& ep = L.ep;
    ep.row_scale = qft::ptr<const float>(row_scale);
    ep.col_scale = qft::ptr<const float>(col_scale);
    ep.bias = qft::ptr<const float>(bias);
    ep.y = qft::ptr<void>(y);
    ep.mode = i32_out ? qft::kEpiI32 : out_dtype == QFT_OUT_BF16 ? qft::kEpiBF16 : qft::kEpiF32;
    ep.accumulate = accumulate;
    ep.M = M;
    ep.N = N;
    const bool split = K > QFT_INT8_MATMUL_MAX_EXACT_K;
    if (split) QFT_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&buf.partial), size_t(M * N) * sizeof(float), qft::stream()));
    ep.partial = buf.partial;
    const int64_t step = split ? QFT_INT8_MATMUL_K_CHUNK : (Kp > 0 ? Kp : 1);
    for (int64_t k0 = 0; k0 < (Kp > 0 ? Kp : 1); k0 += step) {
        L.k_begin = k0;
        L.k_end = k0 + step < Kp ? k0 + step : Kp;
        ep.first_chunk = k0 == 0;
        ep.last_chunk = k0 + step >= Kp;
        int st = kernel == QFT_MM_CUDA_TMA     ? qft::launch_tma(L, name)
                 : kernel == QFT_MM_CUDA_WGMMA ? qft::launch_wgmma(L, name)
                                               : qft::launch_mma(L, name);
        if (st != QFT_OK) return st;
    }
    return QFT_OK;
}
