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

// QFT_MATH_TF32 forward (lse, out) and the backward's two gradient passes (dq; dk, dv) after delta is
// written; `vec`: every row start is 16-byte aligned (float4 loads). Head sizes up to 128.
int attention_forward_tf32(int device, int64_t B, AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v,
                           int64_t lse, int64_t out);
int attention_backward_tf32(int device, int64_t B, AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v,
                            int64_t dout, int64_t lse, int64_t delta, int64_t dq, int64_t dk, int64_t dv);

}  // namespace qft
