// Error checking for the CUDA kernel library: every CUDA call goes through QFT_CUDA_CHECK, every
// launch is followed by QFT_LAUNCH_CHECK; failures become a status plus a thread-local message.
#pragma once

#include <cuda_runtime.h>

#include "../common/internal.h"

#define QFT_CUDA_CHECK(call)                                                                            \
    do {                                                                                               \
        cudaError_t qft_err_ = (call);                                                                 \
        if (qft_err_ != cudaSuccess)                                                                   \
            return qft_set_error(QFT_ECUDA, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,          \
                                 cudaGetErrorString(qft_err_));                                        \
    } while (0)

#define QFT_LAUNCH_CHECK(what) QFT_CUDA_CHECK(cudaPeekAtLastError())

namespace qft {

// Kernel libraries are built with --default-stream per-thread: each Java thread gets its own stream,
// so two trainers on two threads never serialise on the legacy default stream.
inline cudaStream_t stream() { return cudaStreamPerThread; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Device scratch of one call on the calling thread's stream, freed on every return path.
struct StreamScratch {
    void* p = nullptr;
    ~StreamScratch() {
        if (p) cudaFreeAsync(p, stream());
    }
};

// A device counter of rejected inputs (ids out of range, ...): kernels atomicAdd into it, and
// read() returns the count after the stream's work so far is done.
class BadCount {
  public:
    int* ptr = nullptr;

    int init() {
        QFT_CUDA_CHECK(cudaMallocAsync(&ptr, sizeof(int), stream()));
        QFT_CUDA_CHECK(cudaMemsetAsync(ptr, 0, sizeof(int), stream()));
        return QFT_OK;
    }

    int read(int* count) {
        QFT_CUDA_CHECK(cudaMemcpyAsync(count, ptr, sizeof(int), cudaMemcpyDeviceToHost, stream()));
        QFT_CUDA_CHECK(cudaFreeAsync(ptr, stream()));
        ptr = nullptr;
        QFT_CUDA_CHECK(cudaStreamSynchronize(stream()));
        return QFT_OK;
    }

    ~BadCount() {
        if (ptr != nullptr) cudaFreeAsync(ptr, stream());
    }
};

// Blocks of `threads` for a grid-stride loop over n items: enough for every item, at most 8 per SM.
inline int grid_per_sm(int device, int threads, int64_t n, unsigned* blocks) {
    int sms = 0;
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    const int64_t want = ceil_div(n, threads), cap = 8LL * sms;
    *blocks = static_cast<unsigned>(want < 1 ? 1 : want > cap ? cap : want);
    return QFT_OK;
}

}  // namespace qft
