// INT8 matmul on the GPU, part 2: the Hopper kernel (wgmma.mma_async s8 x s8 -> s32, sm_90a). Its body
// exists only when compiling for sm_90a (__CUDA_ARCH_FEAT_SM90_ALL), i.e. in the sm90 library; elsewhere
// wgmma_available() is false and the dispatcher refuses the kernel with QFT_EUNSUPPORTED.
//
// Block: two consumer warpgroups (256 threads), tile 128 x BN x 64 bytes of K; warpgroup w owns rows
// [64w, 64w+64), issues two m64nBNk32 wgmmas per stage and keeps one wgmma group in flight. Operands reach
// shared memory through a kStages-deep cp.async pipeline in the canonical K-major, no-swizzle layout of the
// PTX ISA ("Shared memory matrix layout"): 8-row x 16-byte core matrices stored as 128 contiguous bytes, the
// 4 core matrices of one 8-row group adjacent along K (leading byte offset 128), 8-row groups 512 bytes apart
// (stride byte offset 512). cp.async writes go through the generic proxy, so a fence.proxy.async makes them
// visible to the wgmma (async proxy) before the barrier.
#include <cstring>

#include "int8_matmul.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#include "wgmma_s8.cuh"
#endif

namespace qft {
namespace {

// kStages smem stages, loads issued kStages - 2 tiles ahead: one stage is being loaded, one may still be read
// by the wgmma group left in flight (wait_group 1), the rest are ready.
constexpr int kBK = 64, kBM = 128, kStages = 5, kThreads = 256;

template <int BN>
constexpr int wgmma_smem() { return kStages * (kBM + BN) * kBK; }

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Byte offset of 16-byte chunk c (k bytes 16c..16c+15) of row r in the core-matrix layout above.
__device__ __forceinline__ int core_offset(int r, int c) { return (r >> 3) * 512 + c * 128 + (r & 7) * 16; }

__device__ __forceinline__ uint64_t smem_desc(const void* p) {
    const uint64_t addr = static_cast<uint64_t>(__cvta_generic_to_shared(p));
    return ((addr & 0x3FFFF) >> 4) | (uint64_t(128 >> 4) << 16) | (uint64_t(512 >> 4) << 32);  // swizzle bits 62-63 = 0
}
#endif

template <int BN>
__global__ void __launch_bounds__(kThreads) wgmma_kernel(const int8_t* __restrict__ A, const int8_t* __restrict__ B, int64_t M,
                                                         int64_t N, int64_t lda, int64_t k_begin, int64_t k_end, EpiParams ep) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(128) int8_t smem[];
    const int tid = threadIdx.x, wg = tid >> 7, warp_in_wg = (tid >> 5) & 3, lane = tid & 31;
    const int64_t bm0 = int64_t(blockIdx.y) * kBM, bn0 = int64_t(blockIdx.x) * BN;
    const int ktiles = static_cast<int>((k_end - k_begin + kBK - 1) / kBK);
    constexpr int kStageBytes = (kBM + BN) * kBK;

    auto load = [&](int stage, int kt) {
        int8_t* sa = smem + stage * kStageBytes;
        int8_t* sb = sa + kBM * kBK;
        const int64_t k0 = k_begin + int64_t(kt) * kBK;
#pragma unroll
        for (int i = tid; i < (kBM + BN) * 4; i += kThreads) {
            const bool is_a = i < kBM * 4;
            const int r = (is_a ? i : i - kBM * 4) >> 2, c = i & 3;
            const int64_t row = (is_a ? bm0 : bn0) + r, k = k0 + c * 16;
            const bool ok = row < (is_a ? M : N) && k < k_end;
            const int8_t* src = ok ? (is_a ? A : B) + row * lda + k : (is_a ? A : B);
            cp_async16_cg((is_a ? sa : sb) + core_offset(r, c), src, ok ? 16 : 0);
        }
    };

    int32_t d[BN / 2];  // set by the first wgmma (accumulate = 0), never zeroed: see wgmma_s8.cuh

#pragma unroll
    for (int s = 0; s < kStages - 2; ++s) {
        if (s < ktiles) load(s, s);
        cp_async_commit_group();
    }
    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait_group<kStages - 3>();
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        // After this barrier stage kt is visible to both warpgroups, and every thread has passed the
        // wait_group 1 of iteration kt-1, so the wgmmas of tile kt-2 are complete and their stage can be refilled.
        __syncthreads();
        const int next = kt + kStages - 2;
        if (next < ktiles) load(next % kStages, next);
        cp_async_commit_group();

        const int8_t* sa = smem + (kt % kStages) * kStageBytes + wg * 64 * kBK;  // this warpgroup's 64 rows
        const int8_t* sb = smem + (kt % kStages) * kStageBytes + kBM * kBK;
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int ks = 0; ks < kBK / 32; ++ks) {  // a k32 step spans two core matrices along K: 256 bytes
            const int accumulate = kt > 0 || ks > 0;
            if constexpr (BN == 256) wgmma_m64n256k32(d, smem_desc(sa + ks * 256), smem_desc(sb + ks * 256), accumulate);
            else wgmma_m64n128k32(d, smem_desc(sa + ks * 256), smem_desc(sb + ks * 256), accumulate);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");  // tile kt's wgmmas overlap the next tile's wait
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    cp_async_wait_group<0>();
    if (ktiles == 0) {  // K = 0: no wgmma ran, the sums are 0
#pragma unroll
        for (int i = 0; i < BN / 2; ++i) d[i] = 0;
    }

    // wgmma D fragment (m64nN, s32): register 4j+e of a thread holds row 16*warp + lane/4 (+8 for e >= 2),
    // column 8j + 2*(lane%4) + (e & 1).
    const int64_t m = bm0 + wg * 64 + warp_in_wg * 16 + (lane >> 2);
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
        const int64_t n = bn0 + j * 8 + (lane & 3) * 2;
        epilogue_store(ep, m, n, d[4 * j]);
        epilogue_store(ep, m, n + 1, d[4 * j + 1]);
        epilogue_store(ep, m + 8, n, d[4 * j + 2]);
        epilogue_store(ep, m + 8, n + 1, d[4 * j + 3]);
    }
#else
    __trap();  // never launched: launch_wgmma refuses unless this library is the sm90 one and the GPU is 9.0
#endif
}

template <int BN>
int launch_wgmma_tile(const MatmulLaunch& L) {
    auto kernel = wgmma_kernel<BN>;
    QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, wgmma_smem<BN>()));
    const int64_t gx = ceil_div(L.N, BN), gy = ceil_div(L.M, kBM);
    if (gy > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_int8_matmul: M = %lld needs %lld row tiles, over the grid limit 65535",
                             (long long)L.M, (long long)gy);
    kernel<<<dim3(unsigned(gx), unsigned(gy)), kThreads, wgmma_smem<BN>(), stream()>>>(L.a, L.b, L.M, L.N, L.lda, L.k_begin,
                                                                                        L.k_end, L.ep);
    QFT_LAUNCH_CHECK("wgmma_kernel");
    return QFT_OK;
}

}  // namespace

bool wgmma_available(int device) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess)
        return false;
    // sm_90a SASS runs on compute capability 9.0 only; newer GPUs would JIT the compute_90 PTX, which has no wgmma body.
    return std::strcmp(QFT4J_CUDA_TARGET, "sm90") == 0 && major == 9 && minor == 0;
}

// BN = 256 halves the A traffic per output and is taken when it still gives every SM a block.
int launch_wgmma(const MatmulLaunch& L, const char** name) {
    if (ceil_div(L.M, kBM) * ceil_div(L.N, 256) >= L.sm_count) {
        *name = "cuda-wgmma-128x256x64";
        return launch_wgmma_tile<256>(L);
    }
    *name = "cuda-wgmma-128x128x64";
    return launch_wgmma_tile<128>(L);
}

}  // namespace qft
