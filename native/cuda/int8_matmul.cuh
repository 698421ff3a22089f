// Shared pieces of the INT8 matmul kernels (int8_matmul.cu: mma.sync for sm_80+, int8_matmul_sm90.cu: wgmma
// for sm_90a, int8_matmul_tma.cu: TMA + wgmma for sm_90a): the fp32 epilogue of qft4j/int8_matmul.h and the launcher interface (cp.async helpers: cp_async.cuh).
#pragma once

#include <cuda_bf16.h>

#include "check.cuh"
#include "cp_async.cuh"
#include "qft4j/int8_matmul.h"

namespace qft {

// What a kernel does with the int32 sums of its K range [k_begin, k_end).
enum EpiMode { kEpiI32 = 0, kEpiF32 = 1, kEpiBF16 = 2 };

struct EpiParams {
    const float* row_scale;  // (M) or null
    const float* col_scale;  // (N) or null
    const float* bias;       // (N) or null
    void* y;                 // (M,N): int32 (kEpiI32), fp32 or bf16
    float* partial;          // (M,N) fp32 chunk sums when K is split, else null
    int mode;
    int accumulate;
    int first_chunk, last_chunk;  // of the split K; both 1 when K is not split
    int64_t M, N;
};

// One element, in the order the header specifies; __fadd_rn/__fmul_rn forbid FMA contraction so the
// result equals the CPU reference bit for bit.
__device__ __forceinline__ void epilogue_store(const EpiParams& p, int64_t m, int64_t n, int32_t acc) {
    if (m >= p.M || n >= p.N) return;
    const int64_t i = m * p.N + n;
    if (p.mode == kEpiI32) {
        static_cast<int32_t*>(p.y)[i] = acc;
        return;
    }
    float s = __int2float_rn(acc);
    if (!p.first_chunk) s = __fadd_rn(p.partial[i], s);
    if (!p.last_chunk) {
        p.partial[i] = s;
        return;
    }
    float v = __fmul_rn(s, p.row_scale ? p.row_scale[m] : 1.0f);
    v = __fmul_rn(v, p.col_scale ? p.col_scale[n] : 1.0f);
    if (p.bias) v = __fadd_rn(v, p.bias[n]);
    if (p.mode == kEpiF32) {
        float* y = static_cast<float*>(p.y);
        y[i] = p.accumulate ? __fadd_rn(y[i], v) : v;
    } else {
        __nv_bfloat16* y = static_cast<__nv_bfloat16*>(p.y);
        y[i] = __float2bfloat16_rn(p.accumulate ? __fadd_rn(__bfloat162float(y[i]), v) : v);
    }
}

// Four adjacent columns n..n+3 of row m: the same arithmetic as four epilogue_store calls, with 16-byte (8-byte for
// bf16) stores and loads when all four columns exist and are aligned for them (N % 4 == 0, so m*N+n is a multiple
// of 4, and Y aligned: Y may be a view that starts at any element).
__device__ __forceinline__ void epilogue_store4(const EpiParams& p, int64_t m, int64_t n, int4 a) {
    if (m >= p.M || n >= p.N) return;
    const uintptr_t y_align = p.mode == kEpiBF16 ? 7 : 15;
    if (n + 3 >= p.N || (p.N & 3) || (reinterpret_cast<uintptr_t>(p.y) & y_align)) {
        epilogue_store(p, m, n, a.x);
        epilogue_store(p, m, n + 1, a.y);
        epilogue_store(p, m, n + 2, a.z);
        epilogue_store(p, m, n + 3, a.w);
        return;
    }
    const int64_t i = m * p.N + n;
    if (p.mode == kEpiI32) {
        *reinterpret_cast<int4*>(static_cast<int32_t*>(p.y) + i) = a;
        return;
    }
    float s[4] = {__int2float_rn(a.x), __int2float_rn(a.y), __int2float_rn(a.z), __int2float_rn(a.w)};
    if (!p.first_chunk) {
        const float4 q = *reinterpret_cast<const float4*>(p.partial + i);
        s[0] = __fadd_rn(q.x, s[0]);
        s[1] = __fadd_rn(q.y, s[1]);
        s[2] = __fadd_rn(q.z, s[2]);
        s[3] = __fadd_rn(q.w, s[3]);
    }
    if (!p.last_chunk) {
        *reinterpret_cast<float4*>(p.partial + i) = make_float4(s[0], s[1], s[2], s[3]);
        return;
    }
    const float rs = p.row_scale ? p.row_scale[m] : 1.0f;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        s[e] = __fmul_rn(__fmul_rn(s[e], rs), p.col_scale ? p.col_scale[n + e] : 1.0f);
        if (p.bias) s[e] = __fadd_rn(s[e], p.bias[n + e]);
    }
    if (p.mode == kEpiF32) {
        float4* y = reinterpret_cast<float4*>(static_cast<float*>(p.y) + i);
        if (p.accumulate) {
            const float4 old = *y;
            s[0] = __fadd_rn(old.x, s[0]);
            s[1] = __fadd_rn(old.y, s[1]);
            s[2] = __fadd_rn(old.z, s[2]);
            s[3] = __fadd_rn(old.w, s[3]);
        }
        *y = make_float4(s[0], s[1], s[2], s[3]);
    } else {
        __nv_bfloat162* y = reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(p.y) + i);
        if (p.accumulate) {
            const __nv_bfloat162 o0 = y[0], o1 = y[1];
            s[0] = __fadd_rn(__bfloat162float(o0.x), s[0]);
            s[1] = __fadd_rn(__bfloat162float(o0.y), s[1]);
            s[2] = __fadd_rn(__bfloat162float(o1.x), s[2]);
            s[3] = __fadd_rn(__bfloat162float(o1.y), s[3]);
        }
        __nv_bfloat162 h0, h1;
        h0.x = __float2bfloat16_rn(s[0]);
        h0.y = __float2bfloat16_rn(s[1]);
        h1.x = __float2bfloat16_rn(s[2]);
        h1.y = __float2bfloat16_rn(s[3]);
        uint2 u;
        u.x = *reinterpret_cast<uint32_t*>(&h0);
        u.y = *reinterpret_cast<uint32_t*>(&h1);
        *reinterpret_cast<uint2*>(y) = u;
    }
}

// A launch of one kernel over k range [k_begin, k_end) of A (M, lda) and B (N, lda); lda % 16 == 0, both
// 16-byte aligned, k_begin % 64 == 0, k_end % 16 == 0. Returns a status; *name is the kernel's name.
struct MatmulLaunch {
    const int8_t* a;
    const int8_t* b;
    int64_t M, N, lda, k_begin, k_end;
    EpiParams ep;
    int sm_count;
};

int launch_mma(const MatmulLaunch& L, const char** name);
// QFT_EUNSUPPORTED unless this library holds the sm_90a wgmma kernel (sm90 target) and the device is 9.0.
int launch_wgmma(const MatmulLaunch& L, const char** name);
bool wgmma_available(int device);
// The TMA-fed, warp-specialized wgmma kernel (int8_matmul_tma.cu): needs wgmma_available and a driver that has
// cuTensorMapEncodeTiled; lda must be a multiple of 16 and A, B 16-byte aligned (TMA's rule; the entry pads).
int launch_tma(const MatmulLaunch& L, const char** name);
bool tma_available(int device);

}  // namespace qft
