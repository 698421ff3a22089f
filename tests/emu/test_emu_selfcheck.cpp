// The emulator checked on small kernels written here (not project code): warp shuffles, ballot, the mma.sync
// fragment layout against a plain 16x8x8 product, cp.async zero-fill and group ordering, and that barrier
// divergence, deadlock, a read of cp.async data before its wait and a non-TF32 mma operand are reported. Also the
// integer (m16n8k32 .s8) and bf16 (m16n8k16) mma.sync fragments against plain 16x8x32 and 16x8x16 products.
// emu-cuda:
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
}
