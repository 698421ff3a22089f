// The emulator's bf16 (tests/emu/README.md): the storage type, its exact widening to fp32 and the round-to-nearest-even
// narrowing of cvt.rn.bf16.f32 (PTX ISA "cvt": a NaN input gives the canonical NaN 0x7fff).
#pragma once
#include "../cuda_emu.h"

struct __nv_bfloat16 {
    unsigned short x;
};
struct alignas(4) __nv_bfloat162 {
    __nv_bfloat16 x, y;  // x is the low half
};
inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float((unsigned)b.x << 16); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return {0x7fff};
    u += 0x7fffu + ((u >> 16) & 1u);
    return {(unsigned short)(u >> 16)};
}
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)}; }
