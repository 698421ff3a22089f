// The INT8 block quantizer of one thread block, shared by the round-to-nearest / sign-kept kernel
// (int8_blocks.cu) and the stochastic one (train_step.cu); CPU twins in native/cpu/int8_blocks.cpp and
// train_step.cpp, from the same element functions of qft_math.h.
#pragma once

#include "../common/qft_math.h"
#include "reduce.cuh"

namespace qft {

// Thread block blockIdx.x quantizes block b of row r of x (rows, cols) fp32: scale = absmax/127 of the block,
// codes[r, c] = code(x, 127/absmax, c). A block holding NaN/Inf gets codes 0 and a NaN scale,
// which the quantized Lion step reads as a non-finite gradient.
template <class Code>
__device__ __forceinline__ void quantize_int8_block(const float* __restrict__ x, int64_t cols, int64_t block, int64_t nb,
                                                    int8_t* __restrict__ codes, float* __restrict__ scales, Code code) {
    __shared__ float sh_max[32];
    __shared__ int sh_ok[32];
    const int64_t r = blockIdx.x / nb, b = blockIdx.x % nb;
    const int64_t c0 = b * block, c1 = min(cols, c0 + block);
    const float* xr = x + r * cols;
    int8_t* qr = codes + r * cols;
    float absmax = 0.0f;
    int ok = 1;
    for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
        ok &= finite(xr[c]);
        absmax = fmaxf(absmax, fabsf(xr[c]));
    }
    absmax = block_max(absmax, sh_max);
    ok = block_all(ok, sh_ok);
    if (!ok) {
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) qr[c] = 0;
        if (threadIdx.x == 0) scales[r * nb + b] = __int_as_float(0x7fc00000);
        return;
    }
    if (threadIdx.x == 0) scales[r * nb + b] = absmax_scale(absmax);
    const float inv = absmax_inv_scale(absmax);
    for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) qr[c] = static_cast<int8_t>(code(xr[c], inv, c));
}

}  // namespace qft
