// INT8 matmul on the GPU, part 3: the Hopper kernel fed by the tensor memory accelerator (sm_90a).
//
// Why: the cp.async wgmma kernel (int8_matmul_sm90.cu) runs at the speed of mma.sync, because the warps that
// issue wgmma also issue thousands of 16-byte copies per tile and then wait for them at a block barrier. Here
// the copies are one cp.async.bulk.tensor per operand per stage, issued by a producer warp; two consumer
// warpgroups only wait on mbarriers and issue wgmma (PTX ISA: "Tensor copy", "mbarrier", "wgmma.mma_async").
//
// Block: 3 warpgroups (384 threads). Warpgroup 0 is the producer (one thread issues TMA; setmaxnreg gives its
// registers to the consumers); warpgroups 1 and 2 compute rows [0,64) and [64,128) of a 128 x 256 output tile,
// 128 int32 accumulators per thread, with m64n256k32 wgmmas. K advances 128 bytes per stage; kStages stages.
// Shared layout: each operand tile is rows x 128 bytes, written by TMA with the 128-byte swizzle (16-byte chunk
// c of row r lands at chunk c ^ (r % 8)), which is the K-major SW128 layout the wgmma descriptor names: 8-row
// groups 1024 bytes apart (stride byte offset), a k32 step is +32 bytes on the start address, and every tile
// starts 1024-byte aligned so the hardware's swizzle phase (base offset 0) matches the one TMA wrote.
// Pipeline: full[s] completes when both copies of stage s have landed (expect_tx bytes); empty[s] completes when
// all 8 consumer warps have retired the wgmmas that read stage s (wgmma.wait_group 1 keeps one k-step in flight).
// Grid: persistent, one block per SM walking output tiles in groups of kGroupM row tiles so that the tiles in
// flight at once share A and B rows in L2; while the consumers run the epilogue of one tile the producer already
// fills the stages of the next.
// Tails: rows past M or N and k past k_end are outside the tensor maps, so TMA fills them with zeros (which add
// nothing to a dot product) and still counts their bytes toward the barrier; the epilogue skips rows/cols past M/N.
#include <cstring>

#include <cudaTypedefs.h>

#include "int8_matmul.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#include "wgmma_s8.cuh"
#endif

namespace qft {
namespace {

constexpr int kBM = 128, kBN = 256, kBK = 128, kStages = 4, kThreads = 384;
constexpr int kABytes = kBM * kBK, kBBytes = kBN * kBK, kStageBytes = kABytes + kBBytes;
// Epilogue staging per consumer warpgroup: 64 rows x 64 int32 columns, a quarter of its 64 x 256 sums at a time.
constexpr int kStageOutBytes = 64 * 64 * 4;
// Stages, the staging buffers, the 8-byte full/empty barriers, and slack to align the shared base to 1024 bytes.
constexpr int kSmemBytes = kStages * kStageBytes + 2 * kStageOutBytes + 2 * kStages * 8 + 1024;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ uint32_t sa32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void mbar_init(uint64_t* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(sa32(bar)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, int bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(sa32(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(sa32(bar)) : "memory");
}
// Returns once the phase of parity `parity` has completed; on a fresh barrier parity 1 counts as completed,
// which is how the producer's first pass finds every stage empty.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred p;\nWAIT_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
        "@!p bra WAIT_%=;\n}\n" ::"r"(sa32(bar)),
        "r"(parity)
        : "memory");
}

// 2-D tile copy global -> shared: box origin (k, row) of the tensor map, completion counted on bar.
__device__ __forceinline__ void tma_load(void* dst, const CUtensorMap* map, int k, int row, uint64_t* bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(sa32(dst)),
        "l"(map), "r"(k), "r"(row), "r"(sa32(bar))
        : "memory");
}

// K-major, 128-byte swizzle: leading byte offset unused (1 by convention), stride byte offset 1024, layout 1.
__device__ __forceinline__ uint64_t desc_sw128(const void* p) {
    return uint64_t((sa32(p) & 0x3FFFF) >> 4) | (uint64_t(1) << 16) | (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
}

constexpr int kGroupM = 8;
// Output tile t -> (row tile, column tile): kGroupM row tiles at a time, column-major inside the group.
__device__ __forceinline__ void tile_coords(int t, int tiles_m, int tiles_n, int& tm, int& tn) {
    const int per_group = kGroupM * tiles_n, first = (t / per_group) * kGroupM;
    const int gm = min(tiles_m - first, kGroupM), r = t % per_group;
    tm = first + r % gm;
    tn = r / gm;
}
#endif

__global__ void __launch_bounds__(kThreads, 1)
    tma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b, int tiles_m, int tiles_n,
               int64_t k_begin, int64_t k_end, EpiParams ep) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(1024) uint8_t smem_raw[];
    uint8_t* smem = smem_raw + ((1024 - (sa32(smem_raw) & 1023)) & 1023);
    uint8_t* sA = smem;                       // kStages x (128 rows x 128 bytes of K), swizzled
    uint8_t* sB = smem + kStages * kABytes;   // kStages x (256 rows x 128 bytes of K), swizzled
    uint8_t* sOut = smem + kStages * kStageBytes;  // 2 x (64 rows x 256 bytes), 16-byte chunks swizzled
    uint64_t* full = reinterpret_cast<uint64_t*>(sOut + 2 * kStageOutBytes);
    uint64_t* empty = full + kStages;

    const int tid = threadIdx.x, wg = tid >> 7, lane = tid & 31;
    const int ktiles = static_cast<int>((k_end - k_begin + kBK - 1) / kBK);
    const int tiles = tiles_m * tiles_n;
    if (tid == 0) {
        for (int s = 0; s < kStages; ++s) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], 8);  // one arrival per consumer warp
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(&map_a) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(&map_b) : "memory");
            int stage = 0;
            uint32_t phase = 0;
            for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
                int tm, tn;
                tile_coords(t, tiles_m, tiles_n, tm, tn);
                for (int kt = 0; kt < ktiles; ++kt) {
                    mbar_wait(&empty[stage], phase ^ 1);
                    mbar_expect_tx(&full[stage], kStageBytes);
                    const int k = static_cast<int>(k_begin) + kt * kBK;
                    tma_load(sA + stage * kABytes, &map_a, k, tm * kBM, &full[stage]);
                    tma_load(sB + stage * kBBytes, &map_b, k, tn * kBN, &full[stage]);
                    if (++stage == kStages) {
                        stage = 0;
                        phase ^= 1;
                    }
                }
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int cw = wg - 1, warp_in_wg = (tid >> 5) & 3;
        int stage = 0;
        uint32_t phase = 0;
        int32_t d[kBN / 2];  // set by the first wgmma of each tile (accumulate = 0): see wgmma_s8.cuh
        for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
            int tm, tn;
            tile_coords(t, tiles_m, tiles_n, tm, tn);
            int prev = 0;
            for (int kt = 0; kt < ktiles; ++kt) {
                mbar_wait(&full[stage], phase);
                const uint8_t* a = sA + stage * kABytes + cw * 64 * kBK;  // this warpgroup's 64 rows
                const uint8_t* b = sB + stage * kBBytes;
                asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
                for (int ks = 0; ks < kBK / 32; ++ks)
                    wgmma_m64n256k32(d, desc_sw128(a + ks * 32), desc_sw128(b + ks * 32), kt > 0 || ks > 0);
                asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
                asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");  // k-step kt-1 has retired
                if (kt > 0 && lane == 0) mbar_arrive(&empty[prev]);
                prev = stage;
                if (++stage == kStages) {
                    stage = 0;
                    phase ^= 1;
                }
            }
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            if (ktiles > 0 && lane == 0) mbar_arrive(&empty[prev]);
            if (ktiles == 0) {  // K = 0: no wgmma ran, the sums are 0
#pragma unroll
                for (int i = 0; i < kBN / 2; ++i) d[i] = 0;
            }
            // wgmma D fragment (m64nN, s32): register 4j+e of a thread holds row 16*warp + lane/4 (+8 for e >= 2),
            // columns 8j + 2*(lane%4) + (e & 1). Written straight to global memory, those are 8-byte pieces of 8
            // rows per instruction, and the fully unrolled store code for 128 registers and every epilogue mode
            // overflowed the instruction cache (ncu: most stalls were "no instruction"). So the sums go through
            // shared memory, 64 columns at a time, and come back as 16-byte row pieces that one compact loop stores.
            // 16-byte chunk c of staging row r sits at chunk c ^ 2*(r % 8): the 8 rows one write instruction
            // touches then cover all 32 banks twice (the minimum for 256 bytes), and reads of a row stay conflict-free.
            uint8_t* out = sOut + cw * kStageOutBytes;
            const int r0 = warp_in_wg * 16 + (lane >> 2), q = lane & 3, sw = (r0 & 7) << 1;
            const int tr = (tid & 127) >> 4, tc = tid & 15;  // store loop: 16 threads per row, 8 rows per pass
            const int64_t m0 = int64_t(tm) * kBM + cw * 64;
#pragma unroll
            for (int c = 0; c < kBN / 64; ++c) {
                asm volatile("bar.sync %0, 128;\n" ::"r"(1 + cw) : "memory");  // the previous chunk has been read
#pragma unroll
                for (int jj = 0; jj < 8; ++jj) {
                    const int j = c * 8 + jj, off = (((2 * jj + (q >> 1)) ^ sw) << 4) + (q & 1) * 8;
                    *reinterpret_cast<int2*>(out + r0 * 256 + off) = make_int2(d[4 * j], d[4 * j + 1]);
                    *reinterpret_cast<int2*>(out + (r0 + 8) * 256 + off) = make_int2(d[4 * j + 2], d[4 * j + 3]);
                }
                asm volatile("bar.sync %0, 128;\n" ::"r"(1 + cw) : "memory");
                const int64_t n = int64_t(tn) * kBN + c * 64 + tc * 4;
                for (int r = tr; r < 64; r += 8)
                    epilogue_store4(ep, m0 + r, n, *reinterpret_cast<const int4*>(out + r * 256 + ((tc ^ (tr << 1)) << 4)));
            }
        }
    }
#else
    __trap();  // never launched: launch_tma refuses unless this library is the sm90 one and the GPU is 9.0
#endif
}

// cuTensorMapEncodeTiled from the driver, found at run time: the library links the static CUDA runtime and
// must not link libcuda itself. Null when the driver predates it.
PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
    static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void* p = nullptr;
        cudaDriverEntryPointQueryResult q{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) != cudaSuccess ||
            q != cudaDriverEntryPointSuccess) {
            cudaGetLastError();
            p = nullptr;
        }
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
    }();
    return fn;
}

// (rows, k_end) int8 operand with row pitch lda as box_rows x 128-byte boxes, 128-byte swizzled. Using k_end as
// the K extent makes TMA zero-fill the part of the last box past the end of this K chunk.
int encode(CUtensorMap* map, const int8_t* base, int64_t rows, int64_t k_end, int64_t lda, int box_rows) {
    const cuuint64_t dims[2] = {cuuint64_t(k_end), cuuint64_t(rows)}, strides[1] = {cuuint64_t(lda)};
    const cuuint32_t box[2] = {kBK, cuuint32_t(box_rows)}, elem[2] = {1, 1};
    const CUresult r = encode_fn()(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(base), dims, strides, box, elem,
                                   CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return qft_set_error(QFT_ECUDA, "qft_int8_matmul: cuTensorMapEncodeTiled failed (%d) for a (%lld, %lld) operand, pitch %lld", int(r),
                             (long long)rows, (long long)k_end, (long long)lda);
    return QFT_OK;
}

}  // namespace

bool tma_available(int device) { return wgmma_available(device) && encode_fn() != nullptr; }

int launch_tma(const MatmulLaunch& L, const char** name) {
    if (L.M > INT32_MAX || L.N > INT32_MAX || L.k_end > INT32_MAX)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_int8_matmul: (%lld, %lld, %lld) exceeds the 32-bit TMA coordinates", (long long)L.M,
                             (long long)L.N, (long long)L.k_end);
    CUtensorMap map_a, map_b;  // K = 0: no copies, so no maps (an empty extent cannot be encoded)
    std::memset(&map_a, 0, sizeof map_a);
    std::memset(&map_b, 0, sizeof map_b);
    if (L.k_end > L.k_begin) {
        if (int st = encode(&map_a, L.a, L.M, L.k_end, L.lda, kBM)) return st;
        if (int st = encode(&map_b, L.b, L.N, L.k_end, L.lda, kBN)) return st;
    }
    const int64_t tiles_m = ceil_div(L.M, kBM), tiles_n = ceil_div(L.N, kBN);
    if (tiles_m * tiles_n > INT32_MAX)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_int8_matmul: (%lld, %lld) has too many output tiles", (long long)L.M, (long long)L.N);
    QFT_CUDA_CHECK(cudaFuncSetAttribute(tma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    const int64_t grid = tiles_m * tiles_n < L.sm_count ? tiles_m * tiles_n : L.sm_count;
    tma_kernel<<<unsigned(grid), kThreads, kSmemBytes, stream()>>>(map_a, map_b, int(tiles_m), int(tiles_n), L.k_begin, L.k_end, L.ep);
    QFT_LAUNCH_CHECK("tma_kernel");
    *name = "cuda-tma-wgmma-128x256x128";
    return QFT_OK;
}

}  // namespace qft
