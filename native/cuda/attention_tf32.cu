// Causal grouped-query attention for QFT_MATH_TF32: the FlashAttention-2 structure of attention.cu (Dao 2023,
// arXiv 2307.08691; online softmax forward saving lse, backward = delta kernel + kv pass + q pass in a fixed
// order, no atomics) with every product on the tensor cores (mma_tf32.cuh). Each operand is rounded to TF32
// once, where it enters shared memory: q, k, v, dout as their tiles load, P and dS as they are stored, the
// same operands the CPU reference (native/cpu/attention.cpp) rounds. Softmax, lse and delta stay fp32.
//   forward:  128 threads per (64-query tile, head, sequence); warp w owns query rows 16w .. 16w+15, so
//             a row's max and sum need only the 4 lanes that hold it. S = Q K^T, then O += P V per key tile.
//   kv pass:  256 threads per (64-key tile, query head, sequence); warp w computes S^T and dP^T for keys
//             16 (w % 4) .. +15 and queries 32 (w / 4) .. +31, then dV += P^T dO and dK += dS^T Q for the same
//             keys and head-size columns (D/2)(w / 4) .. +D/2-1. P^T and dS^T take turns in one buffer.
//             With grouped kv heads each query head's dK, dV go to scratch and a last kernel sums every group
//             in head order: a block per query head keeps the grid (and the load balance across key tiles)
//             as large as the q pass's, where a block per kv head would serialise the group's heads.
//   q pass:   128 threads per (64-query tile, head, sequence), warp rows as in forward: dQ += dS K.
// Shared tiles are (64, D + 4) floats: fragment reads of 8 rows x 4 columns (g, t) hit 32 distinct banks;
// V in the forward is read k-major (rows t, columns g) and gets rows of D + 8.
#include "../common/tf32.h"
#include "attention.cuh"
#include "mma_tf32.cuh"

namespace {

constexpr int kTile = qft::kAttentionTile, kPLd = kTile + 4;

// Rows 0 .. 63 of one head of a (B*T, heads*hs) matrix, rounded to TF32, into s (64, ld): rows >= rows and
// columns >= hs (up to D) zero. Row r of the head starts at p + r * stride.
template <int D>
__device__ __forceinline__ void load_tf32(float* s, int ld, const float* __restrict__ p, int64_t stride, int64_t rows, int hs,
                                          bool vec) {
    constexpr int C4 = D / 4;
    for (int e = threadIdx.x; e < kTile * C4; e += blockDim.x) {
        const int r = e / C4, c = (e % C4) * 4;
        const float4 v = qft::tile_quad(p, stride, rows, hs, vec, r, c);
        *reinterpret_cast<float4*>(&s[r * ld + c]) = make_float4(qft::tf32_round(v.x), qft::tf32_round(v.y), qft::tf32_round(v.z),
                                                                 qft::tf32_round(v.w));
    }
}

// This warp's n-tiles of a (64, D) accumulator (rows r0 + mma_row, columns c0 + 8 j + mma_col), times mul[row
// half], to p (rows < rows, columns < hs).
template <int N>
__device__ __forceinline__ void store_acc(float* __restrict__ p, int64_t stride, int64_t rows, int hs, const float (&acc)[N][4],
                                          int r0, int c0, const float (&mul)[2]) {
#pragma unroll
    for (int j = 0; j < N; ++j)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int r = r0 + qft::mma_row(i), c = c0 + 8 * j + qft::mma_col(i);
            if (r < rows && c < hs) p[r * stride + c] = acc[j][i] * mul[i >> 1];
        }
}

// P passes through shared memory 32 keys at a time: the smaller buffer lets two blocks share an SM at D = 128.
template <int D>
struct ForwardSmem {
    static constexpr int kLd = D + 4, kVLd = D + 8, kPHalfLd = kTile / 2 + 4;
    static constexpr size_t bytes = (kTile * (2 * kLd + kVLd) + kTile * kPHalfLd) * sizeof(float);  // Q, K, V, P half
};

// lse (B, nh, T), out (B*T, nh*hs). Grid (query tiles, nh, B), the longest rows (last tiles) first.
template <int D>
__global__ void __launch_bounds__(128) attention_forward_tf32_kernel(qft::AttentionDims a, float scale, bool vec,
                                                                     const float* __restrict__ q, const float* __restrict__ k,
                                                                     const float* __restrict__ v, float* __restrict__ lse,
                                                                     float* __restrict__ out) {
    using S = ForwardSmem<D>;
    extern __shared__ float4 smem[];
    float* Qs = reinterpret_cast<float*>(smem);  // (64 queries, kLd)
    float* Ks = Qs + kTile * S::kLd;            // (64 keys, kLd)
    float* Vs = Ks + kTile * S::kLd;            // (64 keys, kVLd)
    float* Ps = Vs + kTile * S::kVLd;           // (64 queries, kPHalfLd): half the tile's unnormalised probabilities
    const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / a.group(), q_stride = a.nh * a.hs, kv_stride = a.nkv * a.hs;
    const int qt = gridDim.x - 1 - blockIdx.x, t0 = qt * kTile, T = static_cast<int>(a.T), hs = static_cast<int>(a.hs);
    const int r0 = threadIdx.x / 32 * 16;  // this warp's first query row in the tile
    const float *kb = k + a.kv_row(b, 0, kvh), *vb = v + a.kv_row(b, 0, kvh);
    load_tf32<D>(Qs, S::kLd, q + a.q_row(b, t0, h), q_stride, T - t0, hs, vec);

    // Rows r0 + mma_row(0) and r0 + mma_row(2): running max, this lane's share of the running sum.
    float o[D / 8][4] = {}, m[2] = {-INFINITY, -INFINITY}, l[2] = {};
    for (int kt = 0; kt <= qt; ++kt) {
        const int s0 = kt * kTile;
        __syncthreads();  // every warp is done with the previous K and V
        load_tf32<D>(Ks, S::kLd, kb + s0 * kv_stride, kv_stride, T - s0, hs, vec);
        load_tf32<D>(Vs, S::kVLd, vb + s0 * kv_stride, kv_stride, T - s0, hs, vec);
        __syncthreads();
        float s[kTile / 8][4] = {};  // (query, key) = Q K^T (K read as B(d, key)), then the probabilities
        qft::mma_tf32<kTile / 8, D>(s, Qs + r0 * S::kLd, S::kLd, 1, Ks, 1, S::kLd);
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int row = r0 + qft::mma_row(2 * half), t = t0 + row;
            float mx = m[half];
#pragma unroll
            for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
                for (int c = 0; c < 2; ++c) {
                    float& z = s[j][2 * half + c];
                    z = s0 + 8 * j + qft::mma_col(c) <= t ? z * scale : -INFINITY;  // causal mask (and keys past T)
                    mx = fmaxf(mx, z);
                }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            // Key s0 <= t is visible to every row of every visited tile, so mx is finite.
            const float corr = expf(m[half] - mx);
            m[half] = mx;
            l[half] *= corr;
#pragma unroll
            for (int j = 0; j < D / 8; ++j) o[j][2 * half] *= corr, o[j][2 * half + 1] *= corr;
#pragma unroll
            for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
                for (int c = 0; c < 2; ++c) {
                    float& z = s[j][2 * half + c];
                    z = expf(z - mx);
                    l[half] += z;
                }
        }
#pragma unroll
        for (int kh = 0; kh < 2; ++kh) {  // O += P V over keys 32 kh .. +31
#pragma unroll
            for (int j = 0; j < kTile / 16; ++j)
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                    const float* pj = s[kTile / 16 * kh + j];
                    *reinterpret_cast<float2*>(&Ps[(r0 + qft::mma_row(2 * half)) * S::kPHalfLd + 8 * j + qft::mma_col(0)]) =
                        make_float2(qft::tf32_round(pj[2 * half]), qft::tf32_round(pj[2 * half + 1]));
                }
            __syncwarp();  // the warp's P rows are written
            qft::mma_tf32<D / 8, kTile / 2>(o, Ps + r0 * S::kPHalfLd, S::kPHalfLd, 1, Vs + kTile / 2 * kh * S::kVLd, S::kVLd, 1);
            __syncwarp();  // and read, before the next half overwrites them
        }
    }
    float inv[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        l[half] += __shfl_xor_sync(0xffffffffu, l[half], 1);
        l[half] += __shfl_xor_sync(0xffffffffu, l[half], 2);
        inv[half] = 1.0f / l[half];
        const int t = t0 + r0 + qft::mma_row(2 * half);
        if (threadIdx.x % 4 == 0 && t < T) lse[a.stat(b, h, t)] = m[half] + logf(l[half]);
    }
    store_acc(out + a.q_row(b, t0, h), q_stride, T - t0, hs, o, r0, 0, inv);
}

template <int D>
struct KvSmem {
    static constexpr int kLd = D + 4;
    static constexpr size_t bytes = (4 * kTile * kLd + kTile * kPLd + 2 * kTile) * sizeof(float);  // K V Q dO, P/dS, lse delta
};

// dK, dV of query head h alone, (B*T, nh*hs): row ((b*T + s)*nh + h)*hs, which with nh == nkv is dk's and
// dv's own layout. Grid (key tiles, nh, B), the first tiles (most query tiles below them) first.
template <int D>
__global__ void __launch_bounds__(256, 1) attention_backward_kv_tf32_kernel(qft::AttentionDims a, float scale, bool vec,
                                                                         const float* __restrict__ q, const float* __restrict__ k,
                                                                         const float* __restrict__ v, const float* __restrict__ dout,
                                                                         const float* __restrict__ lse,
                                                                         const float* __restrict__ delta, float* __restrict__ gk_out,
                                                                         float* __restrict__ gv_out) {
    using S = KvSmem<D>;
    extern __shared__ float4 smem[];
    float* Ks = reinterpret_cast<float*>(smem);  // (64 keys, kLd)
    float* Vs = Ks + kTile * S::kLd;             // (64 keys, kLd)
    float* Qs = Vs + kTile * S::kLd;             // (64 queries, kLd)
    float* Os = Qs + kTile * S::kLd;             // (64 queries, kLd): dout
    float* Ws = Os + kTile * S::kLd;             // (64 keys, kPLd): P^T, then dS^T
    float *lse_s = Ws + kTile * kPLd, *delta_s = lse_s + kTile;
    const int64_t kt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / a.group(), s0 = kt * kTile;
    const int64_t q_stride = a.nh * a.hs, kv_stride = a.nkv * a.hs, nqt = (a.T + kTile - 1) / kTile;
    const int hs = static_cast<int>(a.hs), warp = threadIdx.x / 32;
    const int k0 = warp % 4 * 16, side = warp / 4;  // this warp's keys k0 .. k0+15; query half / column half `side`
    const int c0 = side * (D / 2);
    load_tf32<D>(Ks, S::kLd, k + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);
    load_tf32<D>(Vs, S::kLd, v + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);

    float gk[D / 16][4] = {}, gv[D / 16][4] = {};  // (keys k0 + mma_row, columns c0 + 8 j + mma_col)
    for (int64_t qt = kt; qt < nqt; ++qt) {
        const int64_t t0 = qt * kTile;
        __syncthreads();  // the previous dS^T Q is done with Qs and Ws
        load_tf32<D>(Qs, S::kLd, q + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
        load_tf32<D>(Os, S::kLd, dout + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
        if (threadIdx.x < kTile) {
            const int64_t t = t0 + threadIdx.x;
            lse_s[threadIdx.x] = t < a.T ? lse[a.stat(b, h, t)] : 0.0f;
            delta_s[threadIdx.x] = t < a.T ? delta[a.stat(b, h, t)] : 0.0f;
        }
        __syncthreads();
        // (key, query) tiles for queries 32 side .. +31: S^T = K Q^T, dP^T = V dO^T (d loss / d p = dout · v).
        float p[4][4] = {}, ds[4][4] = {};
        qft::mma_tf32<4, D>(p, Ks + k0 * S::kLd, S::kLd, 1, Qs + 32 * side * S::kLd, 1, S::kLd);
        qft::mma_tf32<4, D>(ds, Vs + k0 * S::kLd, S::kLd, 1, Os + 32 * side * S::kLd, 1, S::kLd);
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int key = k0 + qft::mma_row(i), col = 32 * side + 8 * j + qft::mma_col(i);
                const int64_t t = t0 + col;
                p[j][i] = s0 + key <= t && t < a.T ? expf(p[j][i] * scale - lse_s[col]) : 0.0f;
                ds[j][i] = p[j][i] * (ds[j][i] - delta_s[col]) * scale;  // softmax backward, then 1/sqrt(hs)
                Ws[key * kPLd + col] = qft::tf32_round(p[j][i]);
            }
        __syncthreads();  // P^T complete
        qft::mma_tf32<D / 16, kTile>(gv, Ws + k0 * kPLd, kPLd, 1, Os + c0, S::kLd, 1);
        __syncthreads();  // every warp is done with P^T
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) Ws[(k0 + qft::mma_row(i)) * kPLd + 32 * side + 8 * j + qft::mma_col(i)] = qft::tf32_round(ds[j][i]);
        __syncthreads();  // dS^T complete
        qft::mma_tf32<D / 16, kTile>(gk, Ws + k0 * kPLd, kPLd, 1, Qs + c0, S::kLd, 1);
    }
    const float one[2] = {1.0f, 1.0f};
    store_acc(gk_out + a.q_row(b, s0, h), q_stride, a.T - s0, hs, gk, k0, c0, one);
    store_acc(gv_out + a.q_row(b, s0, h), q_stride, a.T - s0, hs, gv, k0, c0, one);
}

// dk, dv (B*T, nkv*hs): each kv head's sum of its query heads' partials (B*T, nh*hs), in head order.
__global__ void attention_group_sum_kernel(int64_t n, int64_t hs, int64_t group, const float* __restrict__ part_k,
                                           const float* __restrict__ part_v, float* __restrict__ dk, float* __restrict__ dv) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        // e = ((b*T + s)*nkv + kvh)*hs + j; its query heads kvh*group + i sit at row ((b*T + s)*nkv + kvh)*group + i.
        const int64_t first = (e / hs * group) * hs + e % hs;
        float sk = 0.0f, sv = 0.0f;
        for (int64_t i = 0; i < group; ++i) sk += part_k[first + i * hs], sv += part_v[first + i * hs];
        dk[e] = sk;
        dv[e] = sv;
    }
}

template <int D>
struct QSmem {
    static constexpr int kLd = D + 4;
    static constexpr size_t bytes = (4 * kTile * kLd + kTile * kPLd) * sizeof(float);  // Q, dO, K, V; dS
};

// dq (B*T, nh*hs). Grid (query tiles, nh, B), the longest rows first.
template <int D>
__global__ void __launch_bounds__(128) attention_backward_q_tf32_kernel(qft::AttentionDims a, float scale, bool vec,
                                                                        const float* __restrict__ q, const float* __restrict__ k,
                                                                        const float* __restrict__ v, const float* __restrict__ dout,
                                                                        const float* __restrict__ lse,
                                                                        const float* __restrict__ delta, float* __restrict__ dq) {
    using S = QSmem<D>;
    extern __shared__ float4 smem[];
    float* Qs = reinterpret_cast<float*>(smem);  // (64 queries, kLd)
    float* Os = Qs + kTile * S::kLd;             // (64 queries, kLd): dout
    float* Ks = Os + kTile * S::kLd;             // (64 keys, kLd)
    float* Vs = Ks + kTile * S::kLd;             // (64 keys, kLd)
    float* Ss = Vs + kTile * S::kLd;             // (64 queries, kPLd): dS, each warp its own 16 rows
    const int64_t qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / a.group();
    const int64_t t0 = qt * kTile, q_stride = a.nh * a.hs, kv_stride = a.nkv * a.hs;
    const int hs = static_cast<int>(a.hs), r0 = threadIdx.x / 32 * 16;
    load_tf32<D>(Qs, S::kLd, q + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
    load_tf32<D>(Os, S::kLd, dout + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
    float row_lse[2], row_delta[2];  // rows r0 + mma_row(0), r0 + mma_row(2)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int64_t t = t0 + r0 + qft::mma_row(2 * half);
        row_lse[half] = t < a.T ? lse[a.stat(b, h, t)] : 0.0f;
        row_delta[half] = t < a.T ? delta[a.stat(b, h, t)] : 0.0f;
    }

    float gq[D / 8][4] = {};
    for (int64_t kt = 0; kt <= qt; ++kt) {
        const int64_t s0 = kt * kTile;
        __syncthreads();  // every warp is done with the previous K and V
        load_tf32<D>(Ks, S::kLd, k + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);
        load_tf32<D>(Vs, S::kLd, v + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);
        __syncthreads();
        float p[kTile / 8][4] = {}, ds[kTile / 8][4] = {};  // (query, key): Q K^T and dO V^T
        qft::mma_tf32<kTile / 8, D>(p, Qs + r0 * S::kLd, S::kLd, 1, Ks, 1, S::kLd);
        qft::mma_tf32<kTile / 8, D>(ds, Os + r0 * S::kLd, S::kLd, 1, Vs, 1, S::kLd);
#pragma unroll
        for (int j = 0; j < kTile / 8; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = r0 + qft::mma_row(i), key = 8 * j + qft::mma_col(i);
                const float pij = s0 + key <= t0 + row ? expf(p[j][i] * scale - row_lse[i >> 1]) : 0.0f;
                Ss[row * kPLd + key] = qft::tf32_round(pij * (ds[j][i] - row_delta[i >> 1]) * scale);
            }
        __syncwarp();  // the warp's dS rows are written
        qft::mma_tf32<D / 8, kTile>(gq, Ss + r0 * kPLd, kPLd, 1, Ks, S::kLd, 1);
    }
    const float one[2] = {1.0f, 1.0f};
    store_acc(dq + a.q_row(b, t0, h), q_stride, a.T - t0, hs, gq, r0, 0, one);
}

// cudaFuncSetAttribute for `bytes` of dynamic shared memory, or QFT_EUNSUPPORTED naming what the device lacks.
template <class Kernel>
int allow_smem(int device, Kernel kernel, size_t bytes, const char* fn, int64_t hs) {
    int optin = 0;
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    if (bytes > static_cast<size_t>(optin))
        return qft_set_error(QFT_EUNSUPPORTED, "%s: TF32 attention at head size %lld needs %zu bytes of shared memory per block, device %d allows %d",
                             fn, (long long)hs, bytes, device, optin);
    QFT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
    return QFT_OK;
}

template <int D>
int forward(int device, int64_t B, qft::AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v, int64_t lse,
            int64_t out) {
    constexpr size_t smem = ForwardSmem<D>::bytes;
    if (int st = allow_smem(device, attention_forward_tf32_kernel<D>, smem, "qft_attention_forward", a.hs)) return st;
    const dim3 grid(static_cast<unsigned>(qft::ceil_div(a.T, kTile)), static_cast<unsigned>(a.nh), static_cast<unsigned>(B));
    attention_forward_tf32_kernel<D><<<grid, 128, smem, qft::stream()>>>(a, scale, vec, qft::ptr<const float>(q), qft::ptr<const float>(k),
                                                                        qft::ptr<const float>(v), qft::ptr<float>(lse), qft::ptr<float>(out));
    QFT_LAUNCH_CHECK("attention_forward_tf32_kernel");
    return QFT_OK;
}

template <int D>
int backward(int device, int64_t B, qft::AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v, int64_t dout,
             int64_t lse, int64_t delta, int64_t dq, int64_t dk, int64_t dv) {
    const unsigned tiles = static_cast<unsigned>(qft::ceil_div(a.T, kTile));
    constexpr size_t kv_smem = KvSmem<D>::bytes, q_smem = QSmem<D>::bytes;
    if (int st = allow_smem(device, attention_backward_kv_tf32_kernel<D>, kv_smem, "qft_attention_backward", a.hs)) return st;
    if (int st = allow_smem(device, attention_backward_q_tf32_kernel<D>, q_smem, "qft_attention_backward", a.hs)) return st;
    // Per-query-head dK, dV: straight into dk, dv without grouping, else into scratch (2 x (B*T, nh*hs)) summed after.
    const int64_t group = a.nh / a.nkv, part = B * a.T * a.nh * a.hs;
    qft::StreamScratch scratch;
    float *gk = qft::ptr<float>(dk), *gv = qft::ptr<float>(dv);
    if (group > 1) {
        QFT_CUDA_CHECK(cudaMallocAsync(&scratch.p, 2 * part * sizeof(float), qft::stream()));
        gk = static_cast<float*>(scratch.p), gv = gk + part;
    }
    attention_backward_kv_tf32_kernel<D><<<dim3(tiles, static_cast<unsigned>(a.nh), static_cast<unsigned>(B)), 256, kv_smem, qft::stream()>>>(
        a, scale, vec, qft::ptr<const float>(q), qft::ptr<const float>(k), qft::ptr<const float>(v), qft::ptr<const float>(dout),
        qft::ptr<const float>(lse), qft::ptr<const float>(delta), gk, gv);
    QFT_LAUNCH_CHECK("attention_backward_kv_tf32_kernel");
    if (group > 1) {
        const int64_t n = B * a.T * a.nkv * a.hs;
        attention_group_sum_kernel<<<qft::grid_1d(n, 256), 256, 0, qft::stream()>>>(n, a.hs, group, gk, gv, qft::ptr<float>(dk),
                                                                                    qft::ptr<float>(dv));
        QFT_LAUNCH_CHECK("attention_group_sum_kernel");
    }
    attention_backward_q_tf32_kernel<D><<<dim3(tiles, static_cast<unsigned>(a.nh), static_cast<unsigned>(B)), 128, q_smem, qft::stream()>>>(
        a, scale, vec, qft::ptr<const float>(q), qft::ptr<const float>(k), qft::ptr<const float>(v), qft::ptr<const float>(dout),
        qft::ptr<const float>(lse), qft::ptr<const float>(delta), qft::ptr<float>(dq));
    QFT_LAUNCH_CHECK("attention_backward_q_tf32_kernel");
    return QFT_OK;
}

}  // namespace

namespace qft {

int attention_forward_tf32(int device, int64_t B, AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v,
                           int64_t lse, int64_t out) {
    return a.hs <= 64 ? forward<64>(device, B, a, scale, vec, q, k, v, lse, out) : forward<128>(device, B, a, scale, vec, q, k, v, lse, out);
}

int attention_backward_tf32(int device, int64_t B, AttentionDims a, float scale, bool vec, int64_t q, int64_t k, int64_t v,
                            int64_t dout, int64_t lse, int64_t delta, int64_t dq, int64_t dk, int64_t dv) {
    return a.hs <= 64 ? backward<64>(device, B, a, scale, vec, q, k, v, dout, lse, delta, dq, dk, dv)
                      : backward<128>(device, B, a, scale, vec, q, k, v, dout, lse, delta, dq, dk, dv);
}

}  // namespace qft
