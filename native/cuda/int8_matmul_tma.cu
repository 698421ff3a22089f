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
// Epilogue: the consumers' sums are in registers in the wgmma fragment layout. Written straight to global memory
// they are 8-byte pieces of 8 rows per instruction, and the unrolled store code for 128 registers and every
// epilogue mode overflowed the instruction cache (ncu: most stalls were "no instruction"; 237 KB of code, 5x
// slower). So each warp, which owns 16 whole rows of the tile, stages them through shared memory one 16 x 32 box at
// a time, in the 128-byte swizzle (16-byte chunk c of row r at c ^ r % 8: the 8 rows one fragment write touches
// cover every bank exactly twice, the minimum for 256 bytes), in a loop that is not unrolled, with no barrier
// between warps (a version synchronizing the warpgroup per 64-row box spent 39% of its stalls at those barriers).
// When the output is a plain store (int32; or fp32/bf16 of a whole, unsplit K without accumulate) the box is
// scaled in shared memory and a TMA store copies it out asynchronously, so the writes drain while the next box and
// the next tile's wgmmas run; the epilogue is a template argument, so each kernel holds only its own store code.
// Otherwise (split-K partial sums, accumulate, an unaligned Y) the loop applies epilogue_store4 to the box.
// Tails: rows past M or N and k past k_end are outside the tensor maps, so TMA fills them with zeros (which add
// nothing to a dot product) and still counts their bytes toward the barrier; TMA stores clip at M and N, and the
// generic epilogue skips rows/cols past them.
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
// Epilogue staging per consumer warp: kOutBufs boxes of 16 rows x 32 int32 (or fp32) columns, 128-byte rows; for
// bf16 output one int32 box followed by kOutBufs 16 x 32 bf16 boxes (64-byte rows).
constexpr int kBoxBytes = 16 * 128, kOutBufs = 2, kWarpOutBytes = kOutBufs * kBoxBytes;
// The epilogue a kernel is compiled for: kEpiI32/kEpiF32/kEpiBF16 (int8_matmul.cuh) as TMA stores, or the generic one.
constexpr int kEpiGeneric = 3;
// Stages, the staging buffers of the 8 consumer warps, the 8-byte full/empty barriers, and slack to align the shared
// base to 1024 bytes.
constexpr int kSmemBytes = kStages * kStageBytes + 8 * kWarpOutBytes + 2 * kStages * 8 + 1024;

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

// 2-D tile copy shared -> global (box origin (n, m) of the output map), tracked by the issuing thread's bulk groups.
__device__ __forceinline__ void tma_store(const CUtensorMap* map, const void* src, int n, int m) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n" ::"l"(map), "r"(n), "r"(m),
                 "r"(sa32(src))
                 : "memory");
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}

// Copies this warp's fragment columns [32C, 32C + 32) (registers 4j..4j+3, j = 4C..4C+3; rows r0 = lane/4 and
// r0 + 8 of the warp's 16) into a 16-row x 128-byte box, 16-byte chunk c of row r at chunk c ^ r % 8.
template <int C>
__device__ __forceinline__ void stage_box(const int32_t (&d)[128], uint8_t* box, int r0, int q) {
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
        const int j = C * 4 + jj, off = (((2 * jj + (q >> 1)) ^ (r0 & 7)) << 4) + (q & 1) * 8;
        *reinterpret_cast<int2*>(box + r0 * 128 + off) = make_int2(d[4 * j], d[4 * j + 1]);
        *reinterpret_cast<int2*>(box + (r0 + 8) * 128 + off) = make_int2(d[4 * j + 2], d[4 * j + 3]);
    }
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

template <int EPI>
__global__ void __launch_bounds__(kThreads, 1)
    tma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
               const __grid_constant__ CUtensorMap map_y, int tiles_m, int tiles_n, int64_t k_begin, int64_t k_end, EpiParams ep) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(1024) uint8_t smem_raw[];
    uint8_t* smem = smem_raw + ((1024 - (sa32(smem_raw) & 1023)) & 1023);
    uint8_t* sA = smem;                       // kStages x (128 rows x 128 bytes of K), swizzled
    uint8_t* sB = smem + kStages * kABytes;   // kStages x (256 rows x 128 bytes of K), swizzled
    uint8_t* sOut = smem + kStages * kStageBytes;  // per consumer warp kOutBufs boxes of 16 rows x 128 bytes
    uint64_t* full = reinterpret_cast<uint64_t*>(sOut + 8 * kWarpOutBytes);
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
            // columns 8j + 2*(lane%4) + (e & 1). So each warp owns 16 whole rows of the tile and stages, scales and
            // stores them on its own (TMA boxes of 16 rows x 32 columns): no barrier between warps in the epilogue.
            uint8_t* out = sOut + (cw * 4 + warp_in_wg) * kWarpOutBytes;
            const int lr = lane >> 2, q = lane & 3;  // fragment rows lr, lr + 8 of the warp's 16; 2 columns of 8
            const int64_t m0 = int64_t(tm) * kBM + cw * 64 + warp_in_wg * 16, n0 = int64_t(tn) * kBN;
            // Read-back of a box: lane (lr, q) takes logical chunks 2q, 2q+1 (columns 8q .. 8q+7) of rows lr, lr + 8,
            // at physical chunks (2q + k) ^ lr: each quarter-warp reads 8 distinct chunks, no bank conflict.
            float rs[2] = {1.0f, 1.0f};  // row scales of rows lr, lr + 8, once per tile
            if constexpr (EPI == kEpiF32 || EPI == kEpiBF16) {
#pragma unroll
                for (int h = 0; h < 2; ++h)
                    if (ep.row_scale && m0 + lr + 8 * h < ep.M) rs[h] = ep.row_scale[m0 + lr + 8 * h];
            }
            // Box c holds columns [32c, 32c + 32). The loop is not unrolled (only the register -> shared copy needs
            // constant register indices, hence the switch), which keeps the epilogue code a few KB.
#pragma unroll 1
            for (int c = 0; c < kBN / 32; ++c) {
                // int32 box: double-buffered when TMA reads it (int32, fp32 in place), else one buffer; bf16 output
                // boxes (16 rows x 64 bytes, unswizzled) are double-buffered behind it.
                uint8_t* box = out + (EPI == kEpiBF16 ? 0 : (c % kOutBufs) * kBoxBytes);
                uint8_t* obox = out + kBoxBytes + (c % kOutBufs) * (kBoxBytes / 2);
                const int64_t n = n0 + c * 32 + q * 8;  // this lane's 8 read-back columns
                float cs[8], bs[8];                     // their col_scale and bias, loaded before the waits
                if constexpr (EPI == kEpiF32 || EPI == kEpiBF16)
#pragma unroll
                    for (int e = 0; e < 8; ++e) {
                        cs[e] = ep.col_scale && n + e < ep.N ? ep.col_scale[n + e] : 1.0f;
                        bs[e] = ep.bias && n + e < ep.N ? ep.bias[n + e] : 0.0f;
                    }
                // The TMA store that last read the buffer about to be written (kOutBufs boxes ago) must be done
                // reading, and (the __syncwarp) every lane must be done reading the previous box.
                if (EPI != kEpiGeneric && lane == 0) asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(kOutBufs - 1) : "memory");
                __syncwarp();
                switch (c) {
                    case 0: stage_box<0>(d, box, lr, q); break;
                    case 1: stage_box<1>(d, box, lr, q); break;
                    case 2: stage_box<2>(d, box, lr, q); break;
                    case 3: stage_box<3>(d, box, lr, q); break;
                    case 4: stage_box<4>(d, box, lr, q); break;
                    case 5: stage_box<5>(d, box, lr, q); break;
                    case 6: stage_box<6>(d, box, lr, q); break;
                    default: stage_box<7>(d, box, lr, q); break;
                }
                if constexpr (EPI != kEpiI32) {
                    __syncwarp();
                    // Unrolled only for the plain stores: the generic epilogue_store4 is large.
#pragma unroll(EPI == kEpiGeneric ? 1 : 4)
                    for (int u = 0; u < 4; ++u) {
                        const int h = u >> 1, k = u & 1, r = lr + 8 * h, lc = 2 * q + k;
                        int4* src = reinterpret_cast<int4*>(box + r * 128 + ((lc ^ lr) << 4));
                        const int4 a = *src;
                        if constexpr (EPI == kEpiGeneric) {
                            epilogue_store4(ep, m0 + r, n + 4 * k, a);
                        } else {
                            // y = (acc * row_scale) * col_scale (+ bias) in the order of epilogue_store; bf16 rounds once.
                            const int32_t acc[4] = {a.x, a.y, a.z, a.w};
                            float v[4];
#pragma unroll
                            for (int e = 0; e < 4; ++e) {
                                v[e] = __fmul_rn(__fmul_rn(__int2float_rn(acc[e]), rs[h]), cs[4 * k + e]);
                                if (ep.bias) v[e] = __fadd_rn(v[e], bs[4 * k + e]);
                            }
                            if constexpr (EPI == kEpiF32) {
                                *reinterpret_cast<float4*>(src) = make_float4(v[0], v[1], v[2], v[3]);
                            } else {
                                __nv_bfloat162 hv[2] = {__floats2bfloat162_rn(v[0], v[1]), __floats2bfloat162_rn(v[2], v[3])};
                                *reinterpret_cast<uint2*>(obox + r * 64 + lc * 8) = *reinterpret_cast<uint2*>(hv);
                            }
                        }
                    }
                }
                if constexpr (EPI != kEpiGeneric) {
                    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // generic-proxy writes -> TMA reads
                    __syncwarp();
                    if (lane == 0) tma_store(&map_y, EPI == kEpiBF16 ? obox : box, static_cast<int>(n0) + c * 32, static_cast<int>(m0));
                }
            }
        }
        if (lane == 0) asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");  // outputs written before exit
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

// (M, N) output Y as 16-row x 32-column boxes: int32/fp32 128-byte swizzled like the staging, bf16 (64-byte rows) plain.
int encode_y(CUtensorMap* map, const EpiParams& ep) {
    const int elem = ep.mode == kEpiBF16 ? 2 : 4;
    const cuuint64_t dims[2] = {cuuint64_t(ep.N), cuuint64_t(ep.M)}, strides[1] = {cuuint64_t(ep.N * elem)};
    const cuuint32_t box[2] = {32, 16}, estr[2] = {1, 1};
    const CUtensorMapDataType type = ep.mode == kEpiI32   ? CU_TENSOR_MAP_DATA_TYPE_INT32
                                     : ep.mode == kEpiF32 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32
                                                          : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    const CUresult r = encode_fn()(map, type, 2, ep.y, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                   ep.mode == kEpiBF16 ? CU_TENSOR_MAP_SWIZZLE_NONE : CU_TENSOR_MAP_SWIZZLE_128B,
                                   CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return qft_set_error(QFT_ECUDA, "qft_int8_matmul: cuTensorMapEncodeTiled failed (%d) for the (%lld, %lld) output", int(r),
                             (long long)ep.M, (long long)ep.N);
    return QFT_OK;
}

template <int EPI>
int launch_epi(const CUtensorMap& map_a, const CUtensorMap& map_b, const CUtensorMap& map_y, int tiles_m, int tiles_n, const MatmulLaunch& L) {
    auto kernel = tma_kernel<EPI>;
    QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    const int64_t tiles = int64_t(tiles_m) * tiles_n, grid = tiles < L.sm_count ? tiles : L.sm_count;
    kernel<<<unsigned(grid), kThreads, kSmemBytes, stream()>>>(map_a, map_b, map_y, tiles_m, tiles_n, L.k_begin, L.k_end, L.ep);
    QFT_LAUNCH_CHECK("tma_kernel");
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
    // TMA stores need a plain store (no read of Y or of partial sums), a 16-byte aligned Y and row pitch.
    const EpiParams& ep = L.ep;
    const int elem = ep.mode == kEpiBF16 ? 2 : 4;
    const bool plain = ep.mode == kEpiI32 || (ep.first_chunk && ep.last_chunk && !ep.accumulate);
    const bool tma_out = plain && (reinterpret_cast<uintptr_t>(ep.y) & 15) == 0 && (ep.N * elem) % 16 == 0;
    CUtensorMap map_y;
    std::memset(&map_y, 0, sizeof map_y);
    if (tma_out)
        if (int st = encode_y(&map_y, ep)) return st;
    const int epi = tma_out ? ep.mode : kEpiGeneric;
    int st = epi == kEpiI32   ? launch_epi<kEpiI32>(map_a, map_b, map_y, int(tiles_m), int(tiles_n), L)
             : epi == kEpiF32 ? launch_epi<kEpiF32>(map_a, map_b, map_y, int(tiles_m), int(tiles_n), L)
             : epi == kEpiBF16 ? launch_epi<kEpiBF16>(map_a, map_b, map_y, int(tiles_m), int(tiles_n), L)
                               : launch_epi<kEpiGeneric>(map_a, map_b, map_y, int(tiles_m), int(tiles_n), L);
    if (st != QFT_OK) return st;
    *name = "cuda-tma-wgmma-128x256x128";
    return QFT_OK;
}

}  // namespace qft
