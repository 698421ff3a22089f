// Shared by the attention kernels: the SIMT fp32 ones (attention.cu) and the TF32 tensor-core ones
// (attention_tf32.cu), which attention.cu's entry points call for QFT_MATH_TF32.
#pragma once

#include "engine.cuh"

namespace qft {

constexpr int kAttentionTile = 64;  // query and key rows per tile

// Element offsets into the (B*T, heads*hs) activations and the (B, nh, T) row statistics.
struct AttentionDims {
    int64_t T, nh, nkv, hs;
    __device__ int64_t group() const { return nh / nkv; }
    __device__ int64_t q_row(int64_t b, int64_t t, int64_t h) const { return ((b * T + t) * nh + h) * hs; }      // q, out, dq
    __device__ int64_t kv_row(int64_t b, int64_t s, int64_t kvh) const { return ((b * T + s) * nkv + kvh) * hs; }  // k, v, dk, dv
    __device__ int64_t stat(int64_t b, int64_t h, int64_t t) const { return (b * nh + h) * T + t; }               // lse, delta
};

// Columns c..c+3 of row r of a tile whose row 0 is at p (rows `stride` floats apart), zero past `rows` and `hs`;
// `vec`: float4 loads (every row start 16-byte aligned).
__device__ __forceinline__ float4 tile_quad(const float* __restrict__ p, int64_t stride, int64_t rows, int hs, bool vec, int r, int c) {
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < rows && c < hs) {
        const float* src = p + r * stride + c;
        if (vec) {
            v = *reinterpret_cast<const float4*>(src);
        } else {
            v.x = src[0];
            if (c + 1 < hs) v.y = src[1];
            if (c + 2 < hs) v.z = src[2];
            if (c + 3 < hs) v.w = src[3];
        }
    }
    return v;
}

// QFT_MATH_TF32 forward (lse, out) and the backward's two gradient passes (dq; dk, dv) after delta is
// written; `vec`: every row start is 16-byte aligned (float4 loads). Head sizes up to 128.
int attention_forward_tf32(int device, int64_t B, AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v,
                           int64_t lse, int64_t out);
int attention_backward_tf32(int device, int64_t B, AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v,
                            int64_t dout, int64_t lse, int64_t delta, int64_t dq, int64_t dk, int64_t dv);

}  // namespace qft
