// Stands in for cuda_bf16.h in the emulator (tests/emu/README.md): bf16 as its 16 stored bits.
#pragma once
#include "cuda_emu.h"
struct __nv_bfloat16 {
    unsigned short bits;
};
inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float(static_cast<unsigned>(b.bits) << 16); }
