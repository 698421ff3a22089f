// Warp-level TF32 tensor-core products over shared-memory operands (mma.sync.aligned.m16n8k8 .tf32, sm_80+),
// for kernels of QFT_MATH_TF32 (core.h). Operands are strided views, so a transposed operand (K^T, P^T, dS^T)
// is the same tile read with its two strides swapped. Callers store TF32 values (qft::tf32_round, low 13
// bits zero) in shared memory, so the tensor cores multiply exactly the operands the CPU reference rounds.
// Fragment layout (PTX ISA, "Matrix Fragments for mma.m16n8k8", .tf32), g = lane / 4, t = lane % 4:
//   A (16 x 8, row): a0 (g, t)  a1 (g+8, t)  a2 (g, t+4)  a3 (g+8, t+4)
//   B (8 x 8, col):  b0 (k t, n g)  b1 (k t+4, n g)
//   C (16 x 8):      c0 (g, 2t)  c1 (g, 2t+1)  c2 (g+8, 2t)  c3 (g+8, 2t+1)
#pragma once

#include <cstdint>

namespace qft {

// d += A (16 x 8) B (8 x 8) on the tensor cores, fp32 accumulators.
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// acc += A (16 x K) B (K x 8N) for the calling warp, K a multiple of 8, in shared memory:
// A(m, k) = a[m * a_rs + k * a_cs], B(k, n) = b[k * b_rs + n * b_cs].
// acc[j][i] holds C(mma_row(i), 8 j + mma_col(i)) of this lane.
template <int N, int K>
__device__ __forceinline__ void mma_tf32(float (&acc)[N][4], const float* a, int a_rs, int a_cs, const float* b, int b_rs,
                                         int b_cs) {
    static_assert(K % 8 == 0, "K must be a multiple of 8");
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll 2
    for (int k0 = 0; k0 < K; k0 += 8) {
        const float *ak = a + (k0 + t) * a_cs, *bk = b + (k0 + t) * b_rs;
        const uint32_t af[4] = {__float_as_uint(ak[g * a_rs]), __float_as_uint(ak[(g + 8) * a_rs]),
                                __float_as_uint(ak[g * a_rs + 4 * a_cs]), __float_as_uint(ak[(g + 8) * a_rs + 4 * a_cs])};
#pragma unroll
        for (int j = 0; j < N; ++j) {
            const uint32_t bf[2] = {__float_as_uint(bk[(8 * j + g) * b_cs]), __float_as_uint(bk[4 * b_rs + (8 * j + g) * b_cs])};
            mma_m16n8k8_tf32(acc[j], af, bf);
        }
    }
}

// Row and column (within an n-tile) of accumulator element i (0..3) of this lane.
__device__ __forceinline__ int mma_row(int i) { return (threadIdx.x % 32) / 4 + 8 * (i >> 1); }
__device__ __forceinline__ int mma_col(int i) { return 2 * (threadIdx.x % 4) + (i & 1); }

}  // namespace qft
