// Token embedding lookup and gradient scatter-add on the GPU; the CPU references are in
// native/cpu/embedding.cpp. The backward gives each thread one column and sums over tokens in order,
// so a repeated id accumulates deterministically, exactly as the CPU does (no atomics).
#include "../common/qft_math.h"
#include "engine.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void embedding_forward_kernel(const float* __restrict__ table, int64_t vocab, int64_t dim,
                                         const int32_t* __restrict__ ids, int64_t n, float* __restrict__ out, int* bad) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n * dim; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / dim, c = e % dim;
        int32_t id = ids[i];
        if (id < 0 || id >= vocab) {
            if (c == 0) atomicAdd(bad, 1);
            continue;
        }
        out[e] = table[id * dim + c];
    }
}

// One block per token: the dense row, then the row's outliers over it, as hybrid_dequantize_kernel does.
__global__ void embedding_forward_hybrid_kernel(const int8_t* __restrict__ codes, const float* __restrict__ scales,
                                                const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col_idx,
                                                const float* __restrict__ values, int64_t vocab, int64_t dim,
                                                const int32_t* __restrict__ ids, float* __restrict__ out, int* bad) {
    const int64_t i = blockIdx.x;
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab) {
        if (threadIdx.x == 0) atomicAdd(bad, 1);
        return;
    }
    const float s = scales[id];
    float* o = out + i * dim;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) o[c] = qft::fmul(static_cast<float>(codes[id * dim + c]), s);
    __syncthreads();
    for (int32_t j = row_ptr[id] + threadIdx.x; j < row_ptr[id + 1]; j += blockDim.x) o[col_idx[j]] = values[j];
}

__global__ void embedding_backward_kernel(const float* __restrict__ dout, const int32_t* __restrict__ ids, int64_t n,
                                          int64_t vocab, int64_t dim, int64_t row0, int64_t rows, float* __restrict__ dtable, int* bad) {
    const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (c >= dim) return;
    for (int64_t i = 0; i < n; ++i) {
        int32_t id = ids[i];
        if (id < 0 || id >= vocab) {
            if (c == 0) atomicAdd(bad, 1);
            continue;
        }
        if (id < row0 || id >= row0 + rows) continue;
        dtable[(id - row0) * dim + c] += dout[i * dim + c];
    }
}

int bad_ids(const char* fn, int bad, int64_t n, int64_t vocab) {
    return qft_set_error(QFT_EINVAL, "%s: %d of %lld ids are outside [0, %lld)", fn, bad, (long long)n, (long long)vocab);
}

}  // namespace

extern "C" QFT_API int qft_cuda_embedding_forward(int32_t device, int64_t table, int64_t vocab, int64_t dim, int64_t ids,
                                                  int64_t n, int64_t out) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount bad;
    if (int st = bad.init()) return st;
    embedding_forward_kernel<<<qft::grid_1d(n * dim, kThreads), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(table), vocab, dim, qft::ptr<const int32_t>(ids), n, qft::ptr<float>(out), bad.ptr);
    QFT_LAUNCH_CHECK("embedding_forward_kernel");
    int count = 0;
    if (int st = bad.read(&count)) return st;
    return count > 0 ? bad_ids("qft_embedding_forward", count, n, vocab) : QFT_OK;
}

extern "C" QFT_API int qft_cuda_embedding_forward_hybrid(int32_t device, int64_t codes, int64_t scales, int64_t row_ptr,
                                                         int64_t col_idx, int64_t values, int64_t vocab, int64_t dim, int64_t ids,
                                                         int64_t n, int64_t out) {
    if (n == 0) return QFT_OK;
    if (n > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_embedding_forward_hybrid: %lld tokens exceed the CUDA grid", (long long)n);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount bad;
    if (int st = bad.init()) return st;
    embedding_forward_hybrid_kernel<<<static_cast<unsigned>(n), kThreads, 0, qft::stream()>>>(
        qft::ptr<const int8_t>(codes), qft::ptr<const float>(scales), qft::ptr<const int32_t>(row_ptr), qft::ptr<const int32_t>(col_idx),
        qft::ptr<const float>(values), vocab, dim, qft::ptr<const int32_t>(ids), qft::ptr<float>(out), bad.ptr);
    QFT_LAUNCH_CHECK("embedding_forward_hybrid_kernel");
    int count = 0;
    if (int st = bad.read(&count)) return st;
    return count > 0 ? bad_ids("qft_embedding_forward_hybrid", count, n, vocab) : QFT_OK;
}

extern "C" QFT_API int qft_cuda_embedding_backward(int32_t device, int64_t dout, int64_t ids, int64_t n, int64_t vocab,
                                                   int64_t dim, int64_t row0, int64_t rows, int64_t dtable) {
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    qft::BadCount bad;
    if (int st = bad.init()) return st;
    embedding_backward_kernel<<<static_cast<unsigned>(qft::ceil_div(dim, kThreads)), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(dout), qft::ptr<const int32_t>(ids), n, vocab, dim, row0, rows, qft::ptr<float>(dtable), bad.ptr);
    QFT_LAUNCH_CHECK("embedding_backward_kernel");
    int count = 0;
    if (int st = bad.read(&count)) return st;
    return count > 0 ? bad_ids("qft_embedding_backward", count, n, vocab) : QFT_OK;
}
