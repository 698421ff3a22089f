// The inline-PTX helpers of native/cuda (cp_async.cuh, mma_tf32.cuh) as the emulator runs them: translate.py
// replaces those functions' bodies with calls to these.
#pragma once

#include "cuda_emu.h"

namespace emu {

// cp.async of `size` bytes, src_bytes of them read and the rest zero-filled. Copies at once: the emulator does
// not model the asynchronous copy that commit/wait order on the GPU.
inline void cp_async(void* smem, const void* gmem, int size, int src_bytes) {
    if (src_bytes < 0 || src_bytes > size) fail("cp.async with src-size outside [0, size]");
    if (reinterpret_cast<uintptr_t>(smem) % size != 0) fail("cp.async to a shared address not aligned to its size");
    if (src_bytes > 0 && reinterpret_cast<uintptr_t>(gmem) % size != 0) fail("cp.async from a global address not aligned to its size");
    std::memcpy(smem, gmem, static_cast<size_t>(src_bytes));
    std::memset(static_cast<char*>(smem) + src_bytes, 0, static_cast<size_t>(size - src_bytes));
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, d += A (16 x 8) B (8 x 8), with the PTX ISA's fragment
// layout ("Matrix Fragments for mma.m16n8k8", .tf32; g = lane / 4, t = lane % 4):
//   A: a0 (g, t) a1 (g+8, t) a2 (g, t+4) a3 (g+8, t+4);  B: b0 (k t, n g) b1 (k t+4, n g);
//   C: c0 (g, 2t) c1 (g, 2t+1) c2 (g+8, 2t) c3 (g+8, 2t+1).
// The tensor cores read only the 19 TF32 bits of each operand: the low 13 bits are dropped here, so a kernel that
// forgets to round its operands differs from a CPU reference that rounds them. Products of TF32 values are exact
// in fp32; they are summed in k order onto c (the hardware's order and internal precision differ).
inline void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    uint64_t* mine = slot(self().linear);
    for (int i = 0; i < 4; ++i) mine[i] = a[i] & 0xffffe000u;
    for (int i = 0; i < 2; ++i) mine[4 + i] = b[i] & 0xffffe000u;
    warp_sync();
    const int w0 = warp0(), l = lane(), g = l / 4, t = l % 4;
    auto A = [&](int r, int k) { return __uint_as_float(static_cast<uint32_t>(slot(w0 + (r % 8) * 4 + k % 4)[(r >= 8) + 2 * (k >= 4)])); };
    auto B = [&](int k, int n) { return __uint_as_float(static_cast<uint32_t>(slot(w0 + n * 4 + k % 4)[4 + (k >= 4)])); };
    float out[4];
    for (int i = 0; i < 4; ++i) {
        const int r = g + 8 * (i >> 1), c = 2 * t + (i & 1);
        float acc = d[i];
        for (int k = 0; k < 8; ++k) acc += A(r, k) * B(k, c);
        out[i] = acc;
    }
    warp_sync();  // every lane has read the fragments before any lane publishes its next ones
    for (int i = 0; i < 4; ++i) d[i] = out[i];
}

}  // namespace emu
