// The emulator checked on small kernels written here (not project code): warp shuffles, ballot, the mma.sync
// fragment layout against a plain 16x8x8 product, cp.async zero-fill and group ordering, and that barrier
// divergence, deadlock, a read of cp.async data before its wait and a non-TF32 mma operand are reported. Also the
// integer (m16n8k32 .s8) and bf16 (m16n8k16) mma.sync fragments against plain 16x8x32 and 16x8x16 products. The sm_90a
// PTX: wgmma m64n128k32 .s8 from operands placed by the PTX ISA's tables (no-swizzle core matrices with other LBO/SBO
// than the INT8 kernels use, and the 128-byte swizzle at a k offset) against a plain 64x128x32 product; a TMA load with
// zero fill and the 128-byte swizzle, placed per the "Swizzling Modes" table, and a clipped TMA store; and that a wgmma
// before wgmma.fence, one reading cp.async data with no fence.proxy.async, a cp.async into a pending wgmma's operand and
// an mbarrier wait nobody ends are reported.
// emu-cuda:
#include <cudaTypedefs.h>

#include "driver.h"

namespace {

void expect(const std::string& what, bool ok) {
    printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
    drv::failures += !ok;
    emu::reset_errors();
}

int out[256];
float outf[256];

__global__ void shuffles() {
    const int l = threadIdx.x % 32;
    const int x = __shfl_xor_sync(0xffffffffu, l * 10, 3), d = __shfl_down_sync(0xffffffffu, l, 4), u = __shfl_up_sync(0xffffffffu, l, 1, 8);
    const int s = __shfl_sync(0xffffffffu, l + 100, 7), b = (int)__ballot_sync(0xffffffffu, l % 3 == 0);
    out[threadIdx.x] = (x == (l ^ 3) * 10) && (d == (l + 4 < 32 ? l + 4 : l)) && (u == (l % 8 ? l - 1 : l)) && s == 107 && b == 0x49249249;
}

// A (16 x 8) = r - 2k, B (8 x 8) = k + 3n + 1, C = 0.5: fragments loaded per the PTX ISA table, written out per the C table.
__global__ void mma_layout() {
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    auto A = [](int r, int k) { return __float_as_uint((float)(r - 2 * k)); };
    auto B = [](int k, int n) { return __float_as_uint((float)(k + 3 * n + 1)); };
    float d[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    emu::ptx("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", d[0], d[1], d[2], d[3], A(g, t), A(g + 8, t), A(g, t + 4), A(g + 8, t + 4), B(t, g),
             B(t + 4, g));
    outf[(g) * 8 + 2 * t] = d[0], outf[g * 8 + 2 * t + 1] = d[1], outf[(g + 8) * 8 + 2 * t] = d[2], outf[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// The integer and bf16 shapes, each fragment element placed by the PTX ISA's (row, col) formula for element i
// ("Matrix Fragments for mma.m16n8k32" .s8, "... for mma.m16n8k16 with floating point type" .bf16).
int8_t a8(int r, int k) { return (int8_t)((r * 37 + k * 11) % 256 - 128); }  // covers -128 and 127
int8_t b8(int k, int n) { return (int8_t)((k * 13 + n * 29 + 5) % 256 - 128); }
float abf(int r, int k) { return (float)(r - 2 * k) * 0.25f; }  // bf16-exact values: products and sums exact in fp32
float bbf(int k, int n) { return (float)(k + 3 * n + 1) * 0.125f; }

__global__ void mma_s8_layout() {
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    unsigned a[4] = {}, b[2] = {};
    for (int i = 0; i < 16; ++i) {
        const int row = (i < 4 || (i >= 8 && i < 12)) ? g : g + 8, col = t * 4 + (i & 3) + (i >= 8 ? 16 : 0);
        a[i / 4] |= (unsigned)(uint8_t)a8(row, col) << (8 * (i % 4));
    }
    for (int i = 0; i < 8; ++i) {
        const int row = t * 4 + (i & 3) + (i >= 4 ? 16 : 0), col = g;
        b[i / 4] |= (unsigned)(uint8_t)b8(row, col) << (8 * (i % 4));
    }
    int d[4] = {7, 7, 7, 7};
    emu::ptx("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32", d[0], d[1], d[2], d[3], a[0], a[1], a[2], a[3], b[0], b[1]);
    for (int i = 0; i < 4; ++i) out[(g + 8 * (i / 2)) * 8 + t * 2 + (i & 1)] = d[i];
}

__global__ void mma_bf16_layout() {
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    auto bits = [](float f) { return __float_as_uint(f) >> 16; };  // exact: the values are bf16
    unsigned a[4] = {}, b[2] = {};
    for (int i = 0; i < 8; ++i) {
        const int row = (i < 2 || i == 4 || i == 5) ? g : g + 8, col = t * 2 + (i & 1) + (i >= 4 ? 8 : 0);
        a[i / 2] |= bits(abf(row, col)) << (16 * (i % 2));
    }
    for (int i = 0; i < 4; ++i) {
        const int row = t * 2 + (i & 1) + (i >= 2 ? 8 : 0), col = g;
        b[i / 2] |= bits(bbf(row, col)) << (16 * (i % 2));
    }
    float d[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    emu::ptx("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", d[0], d[1], d[2], d[3], a[0], a[1], a[2], a[3], b[0], b[1]);
    for (int i = 0; i < 4; ++i) outf[(g + 8 * (i / 2)) * 8 + t * 2 + (i & 1)] = d[i];
}

__global__ void mma_short_warp() {
    if (threadIdx.x == 31) return;
    int d[4] = {};
    emu::ptx("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32", d[0], d[1], d[2], d[3], 0u, 0u, 0u, 0u, 0u, 0u);
}

__global__ void mma_not_tf32() {
    float d[4] = {};
    emu::ptx("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", d[0], d[1], d[2], d[3], __float_as_uint(1.0f + 0x1p-20f), 0u, 0u, 0u, 0u, 0u);
}

float src[8] = {1, 2, 3, 4, 5, 6, 7, 8};

__global__ void cp_async_order() {
    alignas(16) static float s[8];
    emu::poison_shared(&s, sizeof s);
    if (threadIdx.x == 0) {
        emu::ptx("cp.async.cg.shared.global [%0], [%1], 16, %2;", (unsigned)__cvta_generic_to_shared(s), src, 8);      // 2 floats, 2 zeros
        emu::ptx("cp.async.commit_group;");
        emu::ptx("cp.async.ca.shared.global [%0], [%1], 4, %2;", (unsigned)__cvta_generic_to_shared(s + 4), src + 4, 4);
        emu::ptx("cp.async.commit_group;");
        emu::ptx("cp.async.wait_group %0;", 1);  // the first group has landed, the second need not have
        outf[0] = s[0], outf[1] = s[1], outf[2] = s[2], outf[3] = s[3];
        out[0] = __float_as_uint(s[4]) == 0xffffffffu;  // still the poison: the emulator completes a group only at its wait
        emu::ptx("cp.async.wait_group %0;", 0);
        outf[4] = s[4];
    }
}

__global__ void divergent_barrier() {
    if (threadIdx.x == 3) return;
    __syncthreads();
}

__global__ void divergent_shuffle() {
    if (threadIdx.x == 3) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
}

__global__ void deadlock() {
    if (threadIdx.x < 16) __syncthreads();  // the other half of the warp waits in __syncwarp: neither can finish
    else __syncwarp();
}

// ---- sm_90a ----
int8_t aw(int r, int k) { return (int8_t)((r * 41 + k * 7 + 3) % 256 - 128); }
int8_t bw(int n, int k) { return (int8_t)((n * 23 + k * 19) % 256 - 128); }
int outw[64 * 128];
alignas(16) int8_t zeros16[16];
bool wg_hazard = false;

// Operand bytes per "Canonical Layouts" (K-major, T = 16 bytes): no swizzle, element (r, k) at
// (r % 8) * 16 + (r / 8) * SBO + (k / 16) * LBO + k % 16, here LBO = 2048 (K chunks far apart) and SBO = 128;
// 128-byte swizzle, the k32 slice at bytes 32..63 of 128-byte rows: 16-byte chunk c = (32 + k) / 16 of row r at chunk
// c ^ (r % 8) of its row, 8-row groups 1024 bytes apart (SBO), per the table of "Swizzling Modes".
template <bool SW128>
__global__ void wgmma_layout() {
    alignas(1024) static int8_t sa[64 * 128], sb[128 * 128];
    emu::poison_shared(&sa, sizeof sa);
    emu::poison_shared(&sb, sizeof sb);
    auto place = [](int8_t* base, int r, int k, int8_t v) {
        if (SW128) base[(r / 8) * 1024 + (r % 8) * 128 + ((((32 + k) / 16) ^ (r % 8)) * 16) + k % 16] = v;
        else base[(r % 8) * 16 + (r / 8) * 128 + (k / 16) * 2048 + k % 16] = v;
    };
    if (threadIdx.x == 0)
        for (int k = 0; k < 32; ++k) {
            for (int r = 0; r < 64; ++r) place(sa, r, k, aw(r, k));
            for (int n = 0; n < 128; ++n) place(sb, n, k, bw(n, k));
        }
    __syncthreads();
    auto desc = [](const int8_t* p) {
        const uint64_t a = (uint64_t)__cvta_generic_to_shared(p);
        return SW128 ? ((a & 0x3FFFF) >> 4) | (1ull << 16) | ((uint64_t)(1024 >> 4) << 32) | (1ull << 62)
                     : ((a & 0x3FFFF) >> 4) | ((uint64_t)(2048 >> 4) << 16) | ((uint64_t)(128 >> 4) << 32);
    };
    int32_t d[64];
    for (int i = 0; i < 64; ++i) d[i] = 7;
    const uint64_t da = desc(SW128 ? sa + 32 : sa), db = desc(SW128 ? sb + 32 : sb);
    const int scale_d = 1;
    emu::ptx("wgmma.fence.sync.aligned;");
    emu::ptx("{ .reg .pred p; setp.ne.b32 p, %66, 0; wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {...}, %64, %65, p; }", d[0], d[1], d[2],
             d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15], d[16], d[17], d[18], d[19], d[20], d[21], d[22],
             d[23], d[24], d[25], d[26], d[27], d[28], d[29], d[30], d[31], d[32], d[33], d[34], d[35], d[36], d[37], d[38], d[39], d[40], d[41],
             d[42], d[43], d[44], d[45], d[46], d[47], d[48], d[49], d[50], d[51], d[52], d[53], d[54], d[55], d[56], d[57], d[58], d[59], d[60],
             d[61], d[62], d[63], da, db, scale_d);
    emu::ptx("wgmma.commit_group.sync.aligned;");
    if (wg_hazard && threadIdx.x == 0)  // refills A while the wgmma reading it is pending: reported
        emu::ptx("cp.async.cg.shared.global [%0], [%1], 16, %2;", (unsigned)__cvta_generic_to_shared(sa), zeros16, 16);
    emu::ptx("wgmma.wait_group.sync.aligned 0;");
    emu::ptx("cp.async.wait_group %0;", 0);
    // "Register Fragments", m64nNk32 .s32: register i of lane l of warp w at row 16w + l/4 + 8((i/2)%2), col 8(i/4) + 2(l%4) + i%2.
    const int w = threadIdx.x / 32, l = threadIdx.x % 32;
    for (int i = 0; i < 64; ++i) outw[(16 * w + l / 4 + 8 * ((i / 2) % 2)) * 128 + 8 * (i / 4) + 2 * (l % 4) + i % 2] = d[i];
}

// A wgmma without wgmma.fence (WG_FENCE false), or reading a chunk that thread 0 staged with cp.async, with or
// without fence.proxy.async after its wait (PROXY_FENCE).
template <bool WG_FENCE, bool PROXY_FENCE>
__global__ void wgmma_fences() {
    alignas(1024) static int8_t sa[64 * 32];
    emu::poison_shared(&sa, sizeof sa);
    if (threadIdx.x == 0) {
        emu::ptx("cp.async.cg.shared.global [%0], [%1], 16, %2;", (unsigned)__cvta_generic_to_shared(sa), zeros16, 16);
        emu::ptx("cp.async.commit_group;");
        emu::ptx("cp.async.wait_group %0;", 0);
        if (PROXY_FENCE) emu::ptx("fence.proxy.async.shared::cta;");
    }
    __syncthreads();
    int32_t d[64] = {};
    const uint64_t desc = ((uint64_t)__cvta_generic_to_shared(sa) & 0x3FFFF) >> 4;  // LBO = SBO = 0: every row reads sa[0..16)
    const int scale_d = 0;
    if (WG_FENCE) emu::ptx("wgmma.fence.sync.aligned;");
    emu::ptx("{ .reg .pred p; setp.ne.b32 p, %66, 0; wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {...}, %64, %65, p; }", d[0], d[1], d[2],
             d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15], d[16], d[17], d[18], d[19], d[20], d[21], d[22],
             d[23], d[24], d[25], d[26], d[27], d[28], d[29], d[30], d[31], d[32], d[33], d[34], d[35], d[36], d[37], d[38], d[39], d[40], d[41],
             d[42], d[43], d[44], d[45], d[46], d[47], d[48], d[49], d[50], d[51], d[52], d[53], d[54], d[55], d[56], d[57], d[58], d[59], d[60],
             d[61], d[62], d[63], desc, desc, scale_d);
    emu::ptx("wgmma.commit_group.sync.aligned;");
    emu::ptx("wgmma.wait_group.sync.aligned 0;");
}

// A (10 rows x 150 bytes, pitch 160) tensor; a 16 x 128-byte box at (k 64, row -3) loaded with the 128-byte swizzle
// (rows -3..-1 and 10..12, bytes 150.. are outside: zeros), then stored back at (k 16, row 4) into a zeroed copy.
unsigned char gt[10 * 160], gt_out[10 * 160], box_seen[16 * 128];
CUtensorMap tmap_in, tmap_out;

__global__ void tma_box() {
    alignas(1024) static unsigned char box[16 * 128];
    alignas(8) static uint64_t bar;
    emu::poison_shared(&box, sizeof box);
    emu::poison_shared(&bar, sizeof bar);
    const unsigned sbox = (unsigned)__cvta_generic_to_shared(box), sbar = (unsigned)__cvta_generic_to_shared(&bar);
    if (threadIdx.x == 0) {
        emu::ptx("mbarrier.init.shared::cta.b64 [%0], %1;", sbar, 1);
        emu::ptx("fence.mbarrier_init.release.cluster;");
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        emu::ptx("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;", sbar, 16 * 128);
        emu::ptx("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];", sbox,
                 (const void*)&tmap_in, 64, -3, sbar);
    }
    emu::ptx("{ .reg .pred p; WAIT: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1; @!p bra WAIT; }", sbar, 0u);
    if (threadIdx.x == 0) {
        memcpy(box_seen, box, sizeof box);
        emu::ptx("fence.proxy.async.shared::cta;");
        emu::ptx("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];", (const void*)&tmap_out, 16, 4, sbox);
        emu::ptx("cp.async.bulk.commit_group;");
        emu::ptx("cp.async.bulk.wait_group 0;");
    }
}

__global__ void mbarrier_never() {
    alignas(8) static uint64_t bar;
    emu::poison_shared(&bar, sizeof bar);
    const unsigned sbar = (unsigned)__cvta_generic_to_shared(&bar);
    if (threadIdx.x == 0) emu::ptx("mbarrier.init.shared::cta.b64 [%0], %1;", sbar, 2);
    __syncthreads();
    if (threadIdx.x == 0) emu::ptx("mbarrier.arrive.shared::cta.b64 _, [%0];", sbar);  // 1 of the 2 arrivals
    emu::ptx("{ .reg .pred p; WAIT: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1; @!p bra WAIT; }", sbar, 0u);
}

}  // namespace

void run_cases() {
    emu::launch(shuffles, "shuffles", emu::Config(1, 64))();
    bool ok = emu::errors() == 0;
    for (int i = 0; i < 64; ++i) ok &= out[i] == 1;
    expect("emu: __shfl_xor/down/up(width 8)/sync, __ballot_sync", ok);

    emu::launch(mma_layout, "mma_layout", emu::Config(1, 32))();
    ok = emu::errors() == 0;
    for (int r = 0; r < 16; ++r)
        for (int n = 0; n < 8; ++n) {
            float want = 0.5f;
            for (int k = 0; k < 8; ++k) want += (float)(r - 2 * k) * (float)(k + 3 * n + 1);
            ok &= outf[r * 8 + n] == want;
        }
    expect("emu: mma.sync m16n8k8 tf32 fragments = the 16x8x8 product", ok);

    emu::launch(mma_s8_layout, "mma_s8_layout", emu::Config(1, 32))();
    ok = emu::errors() == 0;
    for (int r = 0; r < 16; ++r)
        for (int n = 0; n < 8; ++n) {
            int want = 7;
            for (int k = 0; k < 32; ++k) want += a8(r, k) * b8(k, n);
            ok &= out[r * 8 + n] == want;
        }
    expect("emu: mma.sync m16n8k32 s8 fragments = the 16x8x32 integer product", ok);

    emu::launch(mma_bf16_layout, "mma_bf16_layout", emu::Config(1, 32))();
    ok = emu::errors() == 0;
    for (int r = 0; r < 16; ++r)
        for (int n = 0; n < 8; ++n) {
            float want = 0.5f;
            for (int k = 0; k < 16; ++k) want += abf(r, k) * bbf(k, n);
            ok &= outf[r * 8 + n] == want;
        }
    expect("emu: mma.sync m16n8k16 bf16 fragments = the 16x8x16 product", ok);

    emu::quiet(true);  // the errors below are expected
    emu::launch(mma_short_warp, "mma_short_warp", emu::Config(1, 32))();
    expect("emu: reports an mma.sync in a warp with an exited lane", emu::errors() > 0);
    emu::launch(mma_not_tf32, "mma_not_tf32", emu::Config(1, 32))();
    expect("emu: reports an mma.sync operand with low mantissa bits set", emu::errors() > 0);

    emu::quiet(false);
    emu::launch(cp_async_order, "cp_async_order", emu::Config(1, 32))();
    expect("emu: cp.async zero-fill, groups complete at their wait_group",
           emu::errors() == 0 && outf[0] == 1 && outf[1] == 2 && outf[2] == 0 && outf[3] == 0 && out[0] == 1 && outf[4] == 5);

    emu::quiet(true);
    emu::launch(divergent_barrier, "divergent_barrier", emu::Config(1, 64))();
    expect("emu: reports a thread exiting while others wait at __syncthreads", emu::errors() > 0);
    emu::launch(divergent_shuffle, "divergent_shuffle", emu::Config(1, 32))();
    expect("emu: reports a lane exiting while its warp waits in a shuffle", emu::errors() > 0);
    emu::launch(deadlock, "deadlock", emu::Config(1, 32))();
    expect("emu: reports a deadlock", emu::errors() > 0);
    emu::quiet(false);
    cudaGetLastError();

    for (bool sw : {false, true}) {
        emu::launch(sw ? wgmma_layout<true> : wgmma_layout<false>, "wgmma_layout", emu::Config(1, 128))();
        ok = emu::errors() == 0;
        for (int r = 0; r < 64; ++r)
            for (int n = 0; n < 128; ++n) {
                int want = 7;
                for (int k = 0; k < 32; ++k) want += aw(r, k) * bw(n, k);
                ok &= outw[r * 128 + n] == want;
            }
        expect(sw ? "emu: wgmma m64n128k32 s8, 128-byte swizzle at a k offset = the 64x128x32 product"
                  : "emu: wgmma m64n128k32 s8, no swizzle (LBO 2048, SBO 128) = the 64x128x32 product",
               ok);
    }

    for (size_t i = 0; i < sizeof gt; ++i) gt[i] = (unsigned char)(i * 7 + 1);
    memset(gt_out, 0, sizeof gt_out);
    const cuuint64_t dims[2] = {150, 10}, strides[1] = {160};
    const cuuint32_t boxd[2] = {128, 16}, es[2] = {1, 1};
    const bool enc = emu_tensor_map_encode_tiled(&tmap_in, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, gt, dims, strides, boxd, es, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                                 CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) ==
                         CUDA_SUCCESS &&
                     emu_tensor_map_encode_tiled(&tmap_out, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, gt_out, dims, strides, boxd, es,
                                                 CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                                 CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
    const cuuint32_t wide[2] = {256, 16};  // 256-byte rows cannot take the 128-byte swizzle: the driver refuses
    CUtensorMap bad;
    const bool refused = emu_tensor_map_encode_tiled(&bad, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, gt, dims, strides, wide, es, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                                     CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_ERROR_INVALID_VALUE;
    emu::launch(tma_box, "tma_box", emu::Config(1, 64))();
    ok = enc && refused && emu::errors() == 0;
    for (int r = 0; r < 16; ++r)
        for (int x = 0; x < 128; ++x) {
            const int y = r - 3, k = 64 + x;
            const unsigned char want = y >= 0 && y < 10 && k < 150 ? gt[y * 160 + k] : 0;
            ok &= box_seen[r * 128 + ((x / 16) ^ (r % 8)) * 16 + x % 16] == want;  // "Swizzling Modes", 128-byte table
        }
    for (int y = 0; y < 10; ++y)
        for (int k = 0; k < 150; ++k) {  // stored box: rows 4..9 of it are rows -3+.. of the load, cols 16..143 clipped at 150
            const int r = y - 4, x = k - 16;
            const bool in = r >= 0 && r < 16 && x >= 0 && x < 128;
            const int ly = r - 3, lk = 64 + x;
            const unsigned char want = in && ly >= 0 && ly < 10 && lk < 150 ? gt[ly * 160 + lk] : 0;
            ok &= gt_out[y * 160 + k] == want;
        }
    expect("emu: TMA load (zero fill, 128-byte swizzle) through an mbarrier, TMA store clipped; a 256-byte swizzled box refused", ok);

    emu::quiet(true);
    emu::launch(wgmma_fences<false, true>, "wgmma_fences", emu::Config(1, 128))();
    expect("emu: reports a wgmma before wgmma.fence", emu::errors() > 0);
    emu::launch(wgmma_fences<true, false>, "wgmma_fences", emu::Config(1, 128))();
    const int unfenced = emu::errors();
    emu::reset_errors();
    emu::launch(wgmma_fences<true, true>, "wgmma_fences", emu::Config(1, 128))();
    expect("emu: reports a wgmma reading cp.async data with no fence.proxy.async after it (and not with one)", unfenced > 0 && emu::errors() == 0);
    wg_hazard = true;
    emu::launch(wgmma_layout<false>, "wgmma_layout", emu::Config(1, 128))();
    wg_hazard = false;
    expect("emu: reports a cp.async into the operand of a wgmma not yet waited for", emu::errors() > 0);
    emu::launch(mbarrier_never, "mbarrier_never", emu::Config(1, 32))();
    expect("emu: reports a deadlock at an mbarrier whose phase never completes", emu::errors() > 0);
    emu::quiet(false);
    cudaGetLastError();
}
