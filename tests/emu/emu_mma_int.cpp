// The emulator's mma.sync shapes besides the TF32 one of emu.cpp: the INT8 m16n8k32 of int8_matmul.cu and the BF16
// m16n8k16 of peqa_matmul.cu (tests/emu/README.md). Like the TF32 one, each is a warp-synchronous op: every lane leaves
// its six operand registers in the warp's exchange slots, the warp meets, and each lane then reads the whole 16 x K A
// and K x 8 B tiles out of the 32 lanes' registers by the PTX ISA's fragment tables and computes its four outputs.
#include "cuda_emu.h"

namespace emu {
namespace {

bool starts(const char* s, const char* p) { return strncmp(s, p, strlen(p)) == 0; }

// This lane's a0..a3, b0, b1 into its slots [0, 6); returns the warp's slots once every live lane has arrived.
const uint64_t* exchange(const unsigned (&in)[6]) {
    check_mask(0xffffffffu, "mma.sync");
    if (warp_live() != 32) error("mma.sync in a warp of %d live lanes", warp_live());
    uint64_t* s = warp_slots();
    const int l = lane();
    for (int i = 0; i < 6; ++i) s[l * 10 + i] = in[i];
    warp_sync();
    return s;
}

}  // namespace

// mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32: PTX ISA "Matrix Fragments for mma.m16n8k32" (.s8),
// https://docs.nvidia.com/cuda/parallel-thread-execution/#warp-level-matrix-fragment-mma-16832, g = lane / 4,
// t = lane % 4, element i of a lane's fragment in byte i % 4 (low to high) of register i / 4:
//   A a_i: row g for i in [0,4) and [8,12), g + 8 otherwise; col 4t + i % 4, + 16 for i >= 8
//          (registers: a0 (g, k 4t..), a1 (g+8, k 4t..), a2 (g, k 16+4t..), a3 (g+8, k 16+4t..));
//   B b_i: row (k) 4t + i % 4, + 16 for i >= 4; col (n) g  (b0: k 4t.., b1: k 16+4t..);
//   C/D c_i: row g (i < 2) or g + 8; col 2t + i % 2.
// The sums are exact: int32 arithmetic, wrapping on overflow like the instruction without .satfinite.
void ptx(const char* text, int& d0, int& d1, int& d2, int& d3, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
         unsigned b1) {
    if (!starts(text, "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32")) {
        error("unemulated PTX: %s", text);
        return;
    }
    const uint64_t* s = exchange({a0, a1, a2, a3, b0, b1});
    // Row r of A and column n of B as 32 bytes each, by the tables above: bytes k = 16 h + 4 q .. 16 h + 4 q + 3 are
    // register a(r / 8 + 2 h) of lane 4 (r % 8) + q for A, register b(h) (slot 4 + h) of lane 4 n + q for B.
    auto a_row = [&](int r, int8_t (&out)[32]) {
        for (int h = 0; h < 2; ++h)
            for (int q = 0; q < 4; ++q) {
                const uint32_t w = (uint32_t)s[(4 * (r % 8) + q) * 10 + r / 8 + 2 * h];
                memcpy(out + 16 * h + 4 * q, &w, 4);
            }
    };
    auto b_col = [&](int n, int8_t (&out)[32]) {
        for (int h = 0; h < 2; ++h)
            for (int q = 0; q < 4; ++q) {
                const uint32_t w = (uint32_t)s[(4 * n + q) * 10 + 4 + h];
                memcpy(out + 16 * h + 4 * q, &w, 4);
            }
    };
    const int g = lane() / 4, t = lane() % 4;
    int8_t ar[2][32], bc[2][32];
    a_row(g, ar[0]), a_row(g + 8, ar[1]), b_col(2 * t, bc[0]), b_col(2 * t + 1, bc[1]);
    int* d[4] = {&d0, &d1, &d2, &d3};
    for (int i = 0; i < 4; ++i) {
        const int8_t* x = ar[i >> 1];
        const int8_t* y = bc[i & 1];
        uint32_t acc = (uint32_t)*d[i];
        for (int k = 0; k < 32; ++k) acc += (uint32_t)((int32_t)x[k] * (int32_t)y[k]);
        *d[i] = (int)acc;
    }
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: PTX ISA "Matrix Fragments for mma.m16n8k16 with
// floating point type" (.bf16), https://docs.nvidia.com/cuda/parallel-thread-execution/#warp-level-matrix-fragment-mma-16816-float,
// g = lane / 4, t = lane % 4, element i in half i % 2 (low half first) of register i / 2:
//   A a_i: row g for i in {0,1,4,5}, g + 8 otherwise; col 2t + i % 2, + 8 for i >= 4
//          (registers: a0 (g, k 2t..), a1 (g+8, k 2t..), a2 (g, k 8+2t..), a3 (g+8, k 8+2t..));
//   B b_i: row (k) 2t + i % 2, + 8 for i >= 2; col (n) g  (b0: k 2t.., b1: k 8+2t..);
//   C/D as for m16n8k32 above.
// Each output: c + the 16 products in k order, in fp32 (a product of two bf16 values is exact in fp32; the tensor
// cores' sum order and internal precision differ, see the README).
void mma_m16n8k16_bf16(float& d0, float& d1, float& d2, float& d3, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                       unsigned b1) {
    const uint64_t* s = exchange({a0, a1, a2, a3, b0, b1});
    auto half = [&](int l, int reg, int k) { return __uint_as_float((unsigned)((s[l * 10 + reg] >> (16 * (k % 2))) & 0xffffu) << 16); };
    auto A = [&](int r, int k) { return half(4 * (r % 8) + (k % 8) / 2, r / 8 + 2 * (k / 8), k); };
    auto B = [&](int k, int n) { return half(4 * n + (k % 8) / 2, 4 + k / 8, k); };
    const int g = lane() / 4, t = lane() % 4;
    float* d[4] = {&d0, &d1, &d2, &d3};
    for (int i = 0; i < 4; ++i) {
        const int r = g + 8 * (i >> 1), c = 2 * t + (i & 1);
        float acc = *d[i];
        for (int k = 0; k < 16; ++k) acc += A(r, k) * B(k, c);
        *d[i] = acc;
    }
}

}  // namespace emu
