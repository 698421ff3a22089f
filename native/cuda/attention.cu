// Causal grouped-query attention forward and backward on the GPU; the CPU references are in
// native/cpu/attention.cpp and sum in the same orders (positions and head dimensions increasing).
//   forward:       one block per (t, h, b) query row: scores into shared memory, softmax, then out.
//   backward (1):  one block per query row: d att = dout · v, softmax backward into scratch, then dq.
//   backward (2):  one block per (s, kvh, b) key row: dk, dv summed over the group's heads and t >= s,
//                  so no atomics are needed and the gradients are deterministic.
#include "engine.cuh"

namespace {

constexpr int kRowThreads = 128;

struct Shape {
    int64_t T, nh, nkv, hs;
    __device__ int64_t group() const { return nh / nkv; }
    __device__ int64_t q_row(int64_t b, int64_t t, int64_t h) const { return ((b * T + t) * nh + h) * hs; }
    __device__ int64_t kv_row(int64_t b, int64_t s, int64_t kvh) const { return ((b * T + s) * nkv + kvh) * hs; }
    __device__ int64_t att_row(int64_t b, int64_t h, int64_t t) const { return ((b * nh + h) * T + t) * T; }
};

// Dynamic shared memory: hs floats (the query row, pre-scaled) then T floats (the probability row).
__global__ void attention_forward_kernel(Shape a, float scale, const float* __restrict__ q, const float* __restrict__ k,
                                         const float* __restrict__ v, float* __restrict__ att, float* __restrict__ out) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    const int64_t t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / a.group();
    float *qs = sm, *p = sm + a.hs;
    const float* qt = q + a.q_row(b, t, h);
    for (int64_t j = threadIdx.x; j < a.hs; j += blockDim.x) qs[j] = qt[j] * scale;
    __syncthreads();
    float mx = -FLT_MAX;
    for (int64_t s = threadIdx.x; s <= t; s += blockDim.x) {
        const float* ks = k + a.kv_row(b, s, kvh);
        float dot = 0.0f;
        for (int64_t j = 0; j < a.hs; ++j) dot += qs[j] * ks[j];
        p[s] = dot;
        mx = fmaxf(mx, dot);
    }
    mx = qft::block_max_signed(mx, red);
    float sum = 0.0f;
    for (int64_t s = threadIdx.x; s <= t; s += blockDim.x) {
        p[s] = expf(p[s] - mx);
        sum += p[s];
    }
    sum = qft::block_sum(sum, red);
    const float inv = 1.0f / sum;
    float* row = att + a.att_row(b, h, t);
    for (int64_t s = threadIdx.x; s < a.T; s += blockDim.x) {
        const float prob = s <= t ? p[s] * inv : 0.0f;
        row[s] = prob;
        if (s <= t) p[s] = prob;
    }
    __syncthreads();
    float* ot = out + a.q_row(b, t, h);
    for (int64_t j = threadIdx.x; j < a.hs; j += blockDim.x) {
        float acc = 0.0f;
        for (int64_t s = 0; s <= t; ++s) acc += p[s] * v[a.kv_row(b, s, kvh) + j];
        ot[j] = acc;
    }
}

// Dynamic shared memory: hs floats (the dout row) then T floats (the score-gradient row).
__global__ void attention_backward_query_kernel(Shape a, float scale, const float* __restrict__ dout,
                                                const float* __restrict__ k, const float* __restrict__ v,
                                                const float* __restrict__ att, float* __restrict__ ds, float* __restrict__ dq) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    const int64_t t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / a.group();
    float *g = sm, *d = sm + a.hs;
    const float* dout_t = dout + a.q_row(b, t, h);
    const float* p = att + a.att_row(b, h, t);
    for (int64_t j = threadIdx.x; j < a.hs; j += blockDim.x) g[j] = dout_t[j];
    __syncthreads();
    float weighted = 0.0f;
    for (int64_t s = threadIdx.x; s <= t; s += blockDim.x) {
        const float* vs = v + a.kv_row(b, s, kvh);
        float acc = 0.0f;
        for (int64_t j = 0; j < a.hs; ++j) acc += g[j] * vs[j];
        d[s] = acc;
        weighted += p[s] * acc;
    }
    weighted = qft::block_sum(weighted, red);
    float* dsr = ds + a.att_row(b, h, t);
    for (int64_t s = threadIdx.x; s < a.T; s += blockDim.x) {
        const float val = s <= t ? p[s] * (d[s] - weighted) * scale : 0.0f;
        dsr[s] = val;
        if (s <= t) d[s] = val;
    }
    __syncthreads();
    float* dqt = dq + a.q_row(b, t, h);
    for (int64_t j = threadIdx.x; j < a.hs; j += blockDim.x) {
        float acc = 0.0f;
        for (int64_t s = 0; s <= t; ++s) acc += d[s] * k[a.kv_row(b, s, kvh) + j];
        dqt[j] = acc;
    }
}

__global__ void attention_backward_kv_kernel(Shape a, const float* __restrict__ dout, const float* __restrict__ q,
                                             const float* __restrict__ att, const float* __restrict__ ds,
                                             float* __restrict__ dk, float* __restrict__ dv) {
    const int64_t s = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int64_t h0 = kvh * a.group(), h1 = h0 + a.group();
    for (int64_t j = threadIdx.x; j < a.hs; j += blockDim.x) {
        float gk = 0.0f, gv = 0.0f;
        for (int64_t h = h0; h < h1; ++h)
            for (int64_t t = s; t < a.T; ++t) {
                gk += ds[a.att_row(b, h, t) + s] * q[a.q_row(b, t, h) + j];
                gv += att[a.att_row(b, h, t) + s] * dout[a.q_row(b, t, h) + j];
            }
        dk[a.kv_row(b, s, kvh) + j] = gk;
        dv[a.kv_row(b, s, kvh) + j] = gv;
    }
}

int check_grid(const char* fn, int64_t B, int64_t T, int64_t heads, int64_t hs, size_t* smem) {
    *smem = static_cast<size_t>(hs + T) * sizeof(float);
    if (T > 0x7fffffffLL || heads > 65535 || B > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: B %lld x heads %lld x T %lld exceeds the CUDA grid limit", fn, (long long)B,
                             (long long)heads, (long long)T);
    if (*smem > 48 * 1024)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: T %lld + head size %lld floats exceed 48 KiB of shared memory", fn,
                             (long long)T, (long long)hs);
    return QFT_OK;
}

unsigned row_threads(int64_t hs) { return static_cast<unsigned>(std::min<int64_t>(256, qft::ceil_div(hs, 32) * 32)); }

}  // namespace

extern "C" QFT_API int qft_cuda_attention_forward(int32_t device, int64_t q, int64_t k, int64_t v, int64_t B, int64_t T,
                                                  int64_t nh, int64_t nkv, int64_t hs, int64_t att, int64_t out) {
    if (B == 0) return QFT_OK;
    size_t smem = 0;
    if (int st = check_grid("qft_attention_forward", B, T, nh, hs, &smem)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(hs)));
    attention_forward_kernel<<<dim3(static_cast<unsigned>(T), static_cast<unsigned>(nh), static_cast<unsigned>(B)), kRowThreads,
                               smem, qft::stream()>>>(Shape{T, nh, nkv, hs}, scale, qft::ptr<const float>(q),
                                                      qft::ptr<const float>(k), qft::ptr<const float>(v), qft::ptr<float>(att),
                                                      qft::ptr<float>(out));
    QFT_LAUNCH_CHECK("attention_forward_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_attention_backward(int32_t device, int64_t dout, int64_t q, int64_t k, int64_t v, int64_t att,
                                                   int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs, int64_t scratch,
                                                   int64_t dq, int64_t dk, int64_t dv) {
    if (B == 0) return QFT_OK;
    size_t smem = 0;
    if (int st = check_grid("qft_attention_backward", B, T, nh, hs, &smem)) return st;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(hs)));
    const Shape shape{T, nh, nkv, hs};
    attention_backward_query_kernel<<<dim3(static_cast<unsigned>(T), static_cast<unsigned>(nh), static_cast<unsigned>(B)),
                                      kRowThreads, smem, qft::stream()>>>(
        shape, scale, qft::ptr<const float>(dout), qft::ptr<const float>(k), qft::ptr<const float>(v), qft::ptr<const float>(att),
        qft::ptr<float>(scratch), qft::ptr<float>(dq));
    QFT_LAUNCH_CHECK("attention_backward_query_kernel");
    attention_backward_kv_kernel<<<dim3(static_cast<unsigned>(T), static_cast<unsigned>(nkv), static_cast<unsigned>(B)),
                                   row_threads(hs), 0, qft::stream()>>>(shape, qft::ptr<const float>(dout), qft::ptr<const float>(q),
                                                                        qft::ptr<const float>(att), qft::ptr<const float>(scratch),
                                                                        qft::ptr<float>(dk), qft::ptr<float>(dv));
    QFT_LAUNCH_CHECK("attention_backward_kv_kernel");
    return QFT_OK;
}
