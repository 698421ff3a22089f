// Rounding fp32 to TF32 (1 sign, 8 exponent, 10 mantissa bits, kept in an fp32 container with the low 13
// bits zero), shared by the CPU references and the CUDA kernels of QFT_MATH_TF32 (core.h). The rounding
// is PTX's cvt.rna.tf32.f32: to nearest, ties away from zero. It is written once in integer arithmetic and
// compiled by both compilers, so the two backends round every operand to the same bits.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define QFT_TF32_HD __host__ __device__ __forceinline__
#else
#define QFT_TF32_HD inline
#endif

namespace qft {

QFT_TF32_HD float tf32_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    // Inf and NaN pass unchanged (adding to a NaN's mantissa could carry into the sign). On the
    // sign-magnitude bits, adding half of the dropped range rounds the magnitude half away from zero; a
    // carry out of the mantissa correctly bumps the exponent (up to Inf for the largest finite values).
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    memcpy(&x, &u, 4);
    return x;
}

}  // namespace qft
