// Block-wide reductions shared by the QFT kernels.
#pragma once

namespace qft {

// Max over the block of v (every thread gets it). `sh`: 32 floats of shared memory; the leading sync
// lets a kernel call this repeatedly with the same buffer.
__device__ __forceinline__ float block_max(float v, float* sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    v = 0.0f;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; ++w) v = fmaxf(v, sh[w]);
    return v;
}

// Logical AND over the block of ok.
__device__ __forceinline__ int block_all(int ok, int* sh) {
    ok = __all_sync(0xffffffffu, ok);
    __syncthreads();
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = ok;
    __syncthreads();
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; ++w) ok &= sh[w];
    return ok;
}

}  // namespace qft
