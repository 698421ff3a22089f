// Causal grouped-query attention forward and backward on the GPU, fused FlashAttention-2 style
// (Dao 2023, arXiv 2307.08691, Algorithms 1 and 2) in fp32 SIMT arithmetic: nothing of size T x T is
// stored. The CPU references are in native/cpu/attention.cpp.
//   forward:   one block per (64-query tile, head, sequence). Key/value tiles of 64 pass through shared
//              memory; scores, the running row max and row sum stay in registers (online softmax);
//              tiles wholly above the diagonal are never visited. Saves lse = max + log(sum) per row.
//   backward:  delta = rowsum(dout * out) per query row (the D of FA-2), then two kernels that
//              recompute P = exp(q·k * scale - lse) tile by tile:
//                kv: one block per (64-key tile, kv head, sequence) sums dk and dv over the group's
//                    query heads and the query tiles at or below the diagonal;
//                q:  one block per (64-query tile, head, sequence) sums dq over the key tiles.
//              FA-2 accumulates dq with atomics inside the kv pass; the separate q pass recomputes the
//              scores once more but keeps every sum in a fixed order, so gradients are deterministic.
// Tiles: 256 threads as 16 x 16. A thread owns 4 consecutive rows (ty*4 + i) and 4 strided columns
// (tx + 16 j) of a 64 x 64 score tile, and 4 rows x D/16 columns (g*64 + tx*4 + c) of a 64 x D output
// tile. Shared rows of D + 4 floats keep the float4 reads of 8 different rows on distinct banks.
// Head sizes up to 128 are supported (zero-padded to D = 64 or 128).
// These kernels serve QFT_MATH_FP32; QFT_MATH_TF32 runs the tensor-core kernels of attention_tf32.cu
// (the delta kernel here serves both).
#include "attention.cuh"

namespace {

constexpr int kTile = qft::kAttentionTile, kThreads = 256, kPLd = kTile + 4;

using Shape = qft::AttentionDims;

// Rows r0 .. r0+63 (those < T; the rest zero) of one head of a (B*T, heads*hs) matrix into s[64][D+4],
// columns >= hs zero. `row` is the element offset of row r0's head; rows are `stride` floats apart.
template <int D>
__device__ __forceinline__ void load_tile(float (*s)[D + 4], const float* __restrict__ p, int64_t stride, int64_t rows, int hs,
                                          bool vec) {
    constexpr int C4 = D / 4;
    for (int e = threadIdx.x; e < kTile * C4; e += kThreads) {
        const int r = e / C4, c = (e % C4) * 4;
        *reinterpret_cast<float4*>(&s[r][c]) = qft::tile_quad(p, stride, rows, hs, vec, r, c);
    }
}

// acc[i][j] += X[ty*4 + i] · Y[tx + 16 j] over the D columns.
template <int D>
__device__ __forceinline__ void dot_tile(float (&acc)[4][4], const float (*X)[D + 4], const float (*Y)[D + 4], int ty, int tx) {
#pragma unroll 1
    for (int d = 0; d < D; d += 4) {
        float4 x[4], y[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) x[i] = *reinterpret_cast<const float4*>(&X[ty * 4 + i][d]);
#pragma unroll
        for (int j = 0; j < 4; ++j) y[j] = *reinterpret_cast<const float4*>(&Y[tx + 16 * j][d]);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                acc[i][j] = fmaf(x[i].x, y[j].x, acc[i][j]);
                acc[i][j] = fmaf(x[i].y, y[j].y, acc[i][j]);
                acc[i][j] = fmaf(x[i].z, y[j].z, acc[i][j]);
                acc[i][j] = fmaf(x[i].w, y[j].w, acc[i][j]);
            }
    }
}

// acc[i][g*4 + c] += sum_r W[r][ty*4 + i] * Z[r][g*64 + tx*4 + c], r over the 64 rows in order.
template <int D>
__device__ __forceinline__ void weighted_rows(float (&acc)[4][D / 16], const float (*W)[kPLd], const float (*Z)[D + 4], int ty,
                                              int tx) {
#pragma unroll 2
    for (int r = 0; r < kTile; ++r) {
        const float4 w = *reinterpret_cast<const float4*>(&W[r][ty * 4]);
        const float wi[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int g = 0; g < D / 64; ++g) {
            const float4 z = *reinterpret_cast<const float4*>(&Z[r][g * 64 + tx * 4]);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                acc[i][g * 4 + 0] = fmaf(wi[i], z.x, acc[i][g * 4 + 0]);
                acc[i][g * 4 + 1] = fmaf(wi[i], z.y, acc[i][g * 4 + 1]);
                acc[i][g * 4 + 2] = fmaf(wi[i], z.z, acc[i][g * 4 + 2]);
                acc[i][g * 4 + 3] = fmaf(wi[i], z.w, acc[i][g * 4 + 3]);
            }
        }
    }
}

// W[tx + 16 j][ty*4 .. ty*4+3] = v[0..3][j]: a thread's 4 x 4 score values, transposed, as float4 stores
// (8 lanes of a quarter warp write 8 rows kPLd apart: distinct banks).
__device__ __forceinline__ void store_transposed(float (*W)[kPLd], const float (&v)[4][4], int ty, int tx) {
#pragma unroll
    for (int j = 0; j < 4; ++j)
        *reinterpret_cast<float4*>(&W[tx + 16 * j][ty * 4]) = make_float4(v[0][j], v[1][j], v[2][j], v[3][j]);
}

// Rows ty*4 + i, columns g*64 + tx*4 + c of a 64 x D tile (times `mul` per row) to p (rows < `rows`, columns < hs).
template <int D>
__device__ __forceinline__ void store_rows(float* __restrict__ p, int64_t stride, int64_t rows, int hs, const float (&acc)[4][D / 16],
                                           const float (&mul)[4], int ty, int tx) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int r = ty * 4 + i;
        if (r >= rows) continue;
#pragma unroll
        for (int g = 0; g < D / 64; ++g)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const int col = g * 64 + tx * 4 + c;
                if (col < hs) p[r * stride + col] = acc[i][g * 4 + c] * mul[i];
            }
    }
}

template <int D>
constexpr size_t forward_smem() {  // Q, K, V tiles; the probabilities reuse K's space
    return 3 * kTile * (D + 4) * sizeof(float);
}

// lse (B, nh, T), out (B*T, nh*hs). Grid (query tiles, nh, B), the longest rows (last tiles) first.
template <int D>
__global__ void __launch_bounds__(kThreads, 2) attention_forward_kernel(Shape a, float scale, bool vec, const float* __restrict__ q,
                                                                        const float* __restrict__ k, const float* __restrict__ v,
                                                                        float* __restrict__ lse, float* __restrict__ out) {
    extern __shared__ float4 smem[];
    auto Qs = reinterpret_cast<float(*)[D + 4]>(smem);
    auto Ks = Qs + kTile, Vs = Ks + kTile;
    auto Ps = reinterpret_cast<float(*)[kPLd]>(Ks);  // (key, query): P transposed, written after S is done with Ks
    const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / a.group(), q_stride = a.nh * a.hs, kv_stride = a.nkv * a.hs;
    const int qt = gridDim.x - 1 - blockIdx.x, t0 = qt * kTile, T = static_cast<int>(a.T);
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16, hs = static_cast<int>(a.hs);
    const float *kb = k + a.kv_row(b, 0, kvh), *vb = v + a.kv_row(b, 0, kvh);  // key/value row 0 of this head
    load_tile<D>(Qs, q + a.q_row(b, t0, h), q_stride, T - t0, hs, vec);

    float o[4][D / 16] = {}, m[4], l[4] = {};  // l: this thread's share of the row sums
    for (int i = 0; i < 4; ++i) m[i] = -INFINITY;
    for (int kt = 0; kt <= qt; ++kt) {
        const int s0 = kt * kTile;
        __syncthreads();  // the previous tile's P·V is done with Ps (= Ks) and Vs
        load_tile<D>(Ks, kb + s0 * kv_stride, kv_stride, T - s0, hs, vec);
        load_tile<D>(Vs, vb + s0 * kv_stride, kv_stride, T - s0, hs, vec);
        __syncthreads();
        float s[4][4] = {};
        dot_tile<D>(s, Qs, Ks, ty, tx);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int t = t0 + ty * 4 + i;
            float mx = m[i];
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                s[i][j] = s0 + tx + 16 * j <= t ? s[i][j] * scale : -INFINITY;  // causal mask (and keys past T)
                mx = fmaxf(mx, s[i][j]);
            }
            for (int off = 1; off < 16; off <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            // Key 0 is visible to every row, so after the first tile mx is finite.
            const float corr = expf(m[i] - mx);
            m[i] = mx;
            l[i] *= corr;
#pragma unroll
            for (int c = 0; c < D / 16; ++c) o[i][c] *= corr;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                s[i][j] = expf(s[i][j] - mx);
                l[i] += s[i][j];
            }
        }
        __syncthreads();  // every thread is done reading Ks
        store_transposed(Ps, s, ty, tx);
        __syncthreads();
        weighted_rows<D>(o, Ps, Vs, ty, tx);
    }
    float inv[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        for (int off = 1; off < 16; off <<= 1) l[i] += __shfl_xor_sync(0xffffffffu, l[i], off);
        inv[i] = 1.0f / l[i];
        const int t = t0 + ty * 4 + i;
        if (tx == 0 && t < T) lse[a.stat(b, h, t)] = m[i] + logf(l[i]);
    }
    store_rows<D>(out + a.q_row(b, t0, h), q_stride, T - t0, hs, o, inv, ty, tx);
}

// delta (B, nh, T) = rowsum(dout * out): one warp per (b, t, h) row.
__global__ void attention_delta_kernel(Shape a, int64_t rows, const float* __restrict__ dout, const float* __restrict__ out,
                                       float* __restrict__ delta) {
    const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;  // (b*T + t)*nh + h
    if (row >= rows) return;
    const int lane = threadIdx.x % 32;
    const float *g = dout + row * a.hs, *o = out + row * a.hs;
    float acc = 0.0f;
    for (int64_t j = lane; j < a.hs; j += 32) acc = fmaf(g[j], o[j], acc);
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
    const int64_t h = row % a.nh, bt = row / a.nh;
    if (lane == 0) delta[a.stat(bt / a.T, h, bt % a.T)] = acc;
}

template <int D>
constexpr size_t backward_kv_smem() {  // K, V, Q, dout tiles; P and dS (query, key) tiles; lse and delta rows
    return (4 * kTile * (D + 4) + 2 * kTile * kPLd + 2 * kTile) * sizeof(float);
}

// dk, dv (B*T, nkv*hs). Grid (key tiles, nkv, B), the first tiles (most query tiles below them) first.
template <int D>
__global__ void __launch_bounds__(kThreads, 1)
    attention_backward_kv_kernel(Shape a, float scale, bool vec, const float* __restrict__ q, const float* __restrict__ k,
                                 const float* __restrict__ v, const float* __restrict__ dout, const float* __restrict__ lse,
                                 const float* __restrict__ delta, float* __restrict__ dk, float* __restrict__ dv) {
    extern __shared__ float4 smem[];
    auto Ks = reinterpret_cast<float(*)[D + 4]>(smem);
    auto Vs = Ks + kTile, Qs = Vs + kTile, Os = Qs + kTile;
    auto Ps = reinterpret_cast<float(*)[kPLd]>(Os + kTile), Ss = Ps + kTile;
    float *lse_s = &Ss[kTile][0], *delta_s = lse_s + kTile;
    const int64_t kt = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z, s0 = kt * kTile;
    const int64_t q_stride = a.nh * a.hs, kv_stride = a.nkv * a.hs, nqt = (a.T + kTile - 1) / kTile;
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16, hs = static_cast<int>(a.hs);
    load_tile<D>(Ks, k + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);
    load_tile<D>(Vs, v + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);

    float gk[4][D / 16] = {}, gv[4][D / 16] = {};  // rows: keys ty*4 + i
    for (int64_t h = kvh * a.group(); h < (kvh + 1) * a.group(); ++h)
        for (int64_t qt = kt; qt < nqt; ++qt) {
            const int64_t t0 = qt * kTile;
            __syncthreads();  // the previous tile's products are done with Qs, Os, Ps, Ss
            load_tile<D>(Qs, q + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
            load_tile<D>(Os, dout + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
            if (threadIdx.x < kTile) {
                const int64_t t = t0 + threadIdx.x;
                lse_s[threadIdx.x] = t < a.T ? lse[a.stat(b, h, t)] : 0.0f;
                delta_s[threadIdx.x] = t < a.T ? delta[a.stat(b, h, t)] : 0.0f;
            }
            __syncthreads();
            float p[4][4] = {}, ds[4][4] = {};  // (key ty*4 + i, query tx + 16 j)
            dot_tile<D>(p, Ks, Qs, ty, tx);
            dot_tile<D>(ds, Vs, Os, ty, tx);  // d loss / d p = dout · v
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int r = tx + 16 * j;
                    const int64_t t = t0 + r;
                    p[i][j] = s0 + ty * 4 + i <= t && t < a.T ? expf(p[i][j] * scale - lse_s[r]) : 0.0f;
                    ds[i][j] = p[i][j] * (ds[i][j] - delta_s[r]) * scale;  // softmax backward, then 1/sqrt(hs)
                }
            store_transposed(Ps, p, ty, tx);
            store_transposed(Ss, ds, ty, tx);
            __syncthreads();
            weighted_rows<D>(gv, Ps, Os, ty, tx);
            weighted_rows<D>(gk, Ss, Qs, ty, tx);
        }
    const float one[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    store_rows<D>(dk + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, gk, one, ty, tx);
    store_rows<D>(dv + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, gv, one, ty, tx);
}

template <int D>
constexpr size_t backward_q_smem() {  // Q, dout, K, V tiles; the dS (key, query) tile
    return (4 * kTile * (D + 4) + kTile * kPLd) * sizeof(float);
}

// dq (B*T, nh*hs). Grid (query tiles, nh, B), the longest rows first.
template <int D>
__global__ void __launch_bounds__(kThreads, 1)
    attention_backward_q_kernel(Shape a, float scale, bool vec, const float* __restrict__ q, const float* __restrict__ k,
                                const float* __restrict__ v, const float* __restrict__ dout, const float* __restrict__ lse,
                                const float* __restrict__ delta, float* __restrict__ dq) {
    extern __shared__ float4 smem[];
    auto Qs = reinterpret_cast<float(*)[D + 4]>(smem);
    auto Os = Qs + kTile, Ks = Os + kTile, Vs = Ks + kTile;
    auto Ss = reinterpret_cast<float(*)[kPLd]>(Vs + kTile);
    const int64_t qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / a.group();
    const int64_t t0 = qt * kTile, q_stride = a.nh * a.hs, kv_stride = a.nkv * a.hs;
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16, hs = static_cast<int>(a.hs);
    load_tile<D>(Qs, q + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
    load_tile<D>(Os, dout + a.q_row(b, t0, h), q_stride, a.T - t0, hs, vec);
    float row_lse[4], row_delta[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int64_t t = t0 + ty * 4 + i;
        row_lse[i] = t < a.T ? lse[a.stat(b, h, t)] : 0.0f;
        row_delta[i] = t < a.T ? delta[a.stat(b, h, t)] : 0.0f;
    }

    float gq[4][D / 16] = {};
    for (int64_t kt = 0; kt <= qt; ++kt) {
        const int64_t s0 = kt * kTile;
        __syncthreads();  // the previous tile's dS·K is done with Ks, Vs, Ss
        load_tile<D>(Ks, k + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);
        load_tile<D>(Vs, v + a.kv_row(b, s0, kvh), kv_stride, a.T - s0, hs, vec);
        __syncthreads();
        float p[4][4] = {}, ds[4][4] = {};  // (query ty*4 + i, key tx + 16 j)
        dot_tile<D>(p, Qs, Ks, ty, tx);
        dot_tile<D>(ds, Os, Vs, ty, tx);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float pij = s0 + tx + 16 * j <= t0 + ty * 4 + i ? expf(p[i][j] * scale - row_lse[i]) : 0.0f;
                ds[i][j] = pij * (ds[i][j] - row_delta[i]) * scale;
            }
        store_transposed(Ss, ds, ty, tx);
        __syncthreads();
        weighted_rows<D>(gq, Ss, Ks, ty, tx);
    }
    const float one[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    store_rows<D>(dq + a.q_row(b, t0, h), q_stride, a.T - t0, hs, gq, one, ty, tx);
}

int check_shape(const char* fn, int64_t B, int64_t T, int64_t nh, int64_t hs) {
    if (hs > 128)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: head size %lld > 128 is not supported by the CUDA kernels", fn, (long long)hs);
    if (qft::ceil_div(T, kTile) > 0x7fffffffLL || nh > 65535 || B > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: B %lld x heads %lld x T %lld exceeds the CUDA grid limit", fn, (long long)B,
                             (long long)nh, (long long)T);
    return QFT_OK;
}

// float4 global loads need every row start 16-byte aligned.
bool aligned(int64_t hs, std::initializer_list<int64_t> ptrs) {
    bool ok = hs % 4 == 0;
    for (int64_t p : ptrs) ok = ok && p % 16 == 0;
    return ok;
}

template <int D>
int forward(dim3 grid, Shape a, float scale, bool vec, int64_t q, int64_t k, int64_t v, int64_t lse, int64_t out) {
    constexpr size_t smem = forward_smem<D>();
    QFT_CUDA_CHECK(cudaFuncSetAttribute(attention_forward_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    attention_forward_kernel<D><<<grid, kThreads, smem, qft::stream()>>>(a, scale, vec, qft::ptr<const float>(q), qft::ptr<const float>(k),
                                                                         qft::ptr<const float>(v), qft::ptr<float>(lse),
                                                                         qft::ptr<float>(out));
    QFT_LAUNCH_CHECK("attention_forward_kernel");
    return QFT_OK;
}

template <int D>
int backward(int64_t B, Shape a, float scale, bool vec, int64_t q, int64_t k, int64_t v, int64_t dout, int64_t lse, int64_t delta,
             int64_t dq, int64_t dk, int64_t dv) {
    const unsigned tiles = static_cast<unsigned>(qft::ceil_div(a.T, kTile));
    constexpr size_t kv_smem = backward_kv_smem<D>(), q_smem = backward_q_smem<D>();
    QFT_CUDA_CHECK(cudaFuncSetAttribute(attention_backward_kv_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kv_smem));
    QFT_CUDA_CHECK(cudaFuncSetAttribute(attention_backward_q_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, q_smem));
    attention_backward_kv_kernel<D><<<dim3(tiles, static_cast<unsigned>(a.nkv), static_cast<unsigned>(B)), kThreads, kv_smem,
                                      qft::stream()>>>(a, scale, vec, qft::ptr<const float>(q), qft::ptr<const float>(k),
                                                       qft::ptr<const float>(v), qft::ptr<const float>(dout), qft::ptr<const float>(lse),
                                                       qft::ptr<const float>(delta), qft::ptr<float>(dk), qft::ptr<float>(dv));
    QFT_LAUNCH_CHECK("attention_backward_kv_kernel");
    attention_backward_q_kernel<D><<<dim3(tiles, static_cast<unsigned>(a.nh), static_cast<unsigned>(B)), kThreads, q_smem,
                                     qft::stream()>>>(a, scale, vec, qft::ptr<const float>(q), qft::ptr<const float>(k),
                                                      qft::ptr<const float>(v), qft::ptr<const float>(dout), qft::ptr<const float>(lse),
                                                      qft::ptr<const float>(delta), qft::ptr<float>(dq));
    QFT_LAUNCH_CHECK("attention_backward_q_kernel");
    return QFT_OK;
}

float score_scale(int64_t hs) { return static_cast<float>(1.0 / sqrt(static_cast<double>(hs))); }

}  // namespace

extern "C" QFT_API int qft_cuda_attention_forward(int32_t device, int64_t q, int64_t k, int64_t v, int64_t B, int64_t T,
                                                  int64_t nh, int64_t nkv, int64_t hs, int64_t lse, int64_t out, int32_t math) {
    if (B == 0) return QFT_OK;
    if (int st = check_shape("qft_attention_forward", B, T, nh, hs)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const dim3 grid(static_cast<unsigned>(qft::ceil_div(T, kTile)), static_cast<unsigned>(nh), static_cast<unsigned>(B));
    const Shape a{T, nh, nkv, hs};
    const bool vec = aligned(hs, {q, k, v, out});
    if (math == QFT_MATH_TF32) return qft::attention_forward_tf32(device, B, a, score_scale(hs), vec, q, k, v, lse, out);
    return hs <= 64 ? forward<64>(grid, a, score_scale(hs), vec, q, k, v, lse, out)
                    : forward<128>(grid, a, score_scale(hs), vec, q, k, v, lse, out);
}

extern "C" QFT_API int qft_cuda_attention_backward(int32_t device, int64_t dout, int64_t q, int64_t k, int64_t v, int64_t out,
                                                   int64_t lse, int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs,
                                                   int64_t delta, int64_t dq, int64_t dk, int64_t dv, int32_t math) {
    if (B == 0) return QFT_OK;
    if (int st = check_shape("qft_attention_backward", B, T, nh, hs)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const Shape a{T, nh, nkv, hs};
    const int64_t rows = B * T * nh;
    attention_delta_kernel<<<static_cast<unsigned>(qft::ceil_div(rows, 8)), 256, 0, qft::stream()>>>(
        a, rows, qft::ptr<const float>(dout), qft::ptr<const float>(out), qft::ptr<float>(delta));
    QFT_LAUNCH_CHECK("attention_delta_kernel");
    const bool vec = aligned(hs, {q, k, v, dout, dq, dk, dv});
    if (math == QFT_MATH_TF32)
        return qft::attention_backward_tf32(device, B, a, score_scale(hs), vec, q, k, v, dout, lse, delta, dq, dk, dv);
    return hs <= 64 ? backward<64>(B, a, score_scale(hs), vec, q, k, v, dout, lse, delta, dq, dk, dv)
                    : backward<128>(B, a, score_scale(hs), vec, q, k, v, dout, lse, delta, dq, dk, dv);
}
