// The emulator's bf16 (tests/emu/README.md): the storage type and its exact widening to fp32.
#pragma once
#include "../cuda_emu.h"

struct __nv_bfloat16 {
    unsigned short x;
};
inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float((unsigned)b.x << 16); }
