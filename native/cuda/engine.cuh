// Helpers shared by the LLaMA engine's CUDA kernels (embedding, rmsnorm, attention, cross-entropy, ...).
#pragma once

#include <cfloat>

#include "check.cuh"

namespace qft {

// Sum over the block of v (every thread gets it): warp shuffles in a fixed tree, then the warp sums in
// order, so the result is deterministic for a given block size. `sh`: 32 floats of shared memory; the
// leading sync lets a kernel call this repeatedly with the same buffer.
__device__ __forceinline__ float block_sum(float v, float* sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    v = 0.0f;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; ++w) v += sh[w];
    return v;
}

// Max over the block of v, for values of any sign (reduce.cuh's block_max starts at 0).
__device__ __forceinline__ float block_max_signed(float v, float* sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    v = -FLT_MAX;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; ++w) v = fmaxf(v, sh[w]);
    return v;
}

// Grid size for a 1-D elementwise kernel with a grid-stride loop.
inline unsigned grid_1d(int64_t n, int threads) {
    int64_t blocks = ceil_div(n, threads);
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 16 ? 65535 * 16 : blocks));
}

}  // namespace qft
