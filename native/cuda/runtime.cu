// Entry points of the CUDA kernel library that libqft4j.so resolves by name (qft_cuda_symbol):
// library identity, device memory, copies, synchronisation.
#include <cstdio>

#include "check.cuh"

#ifndef QFT4J_CUDA_TARGET
#define QFT4J_CUDA_TARGET "unknown"
#endif

extern "C" {

QFT_API int qft_cuda_library_info_impl(char* buf, int64_t len) {
    int runtime = 0;
    QFT_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    snprintf(buf, static_cast<size_t>(len), "target %s (%s), CUDA runtime %d.%d (static)", QFT4J_CUDA_TARGET,
             QFT4J_CUDA_GENCODE, runtime / 1000, (runtime % 1000) / 10);
    return QFT_OK;
}

QFT_API int qft_cuda_malloc(int32_t device, int64_t bytes, int64_t* out) {
    QFT_CUDA_CHECK(cudaSetDevice(device));
    void* p = nullptr;
    cudaError_t err = cudaMallocAsync(&p, static_cast<size_t>(bytes), qft::stream());
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        return qft_set_error(QFT_ENOMEM, "cuda:%d: out of memory allocating %lld bytes (%zu of %zu bytes free)", device,
                             (long long)bytes, free_b, total_b);
    }
    QFT_CUDA_CHECK(err);
    *out = static_cast<int64_t>(reinterpret_cast<uintptr_t>(p));
    return QFT_OK;
}

QFT_API int qft_cuda_free(int32_t device, int64_t addr) {
    QFT_CUDA_CHECK(cudaSetDevice(device));
    QFT_CUDA_CHECK(cudaFreeAsync(qft::ptr<void>(addr), qft::stream()));
    return QFT_OK;
}

QFT_API int qft_cuda_memset_zero(int32_t device, int64_t addr, int64_t bytes) {
    QFT_CUDA_CHECK(cudaSetDevice(device));
    QFT_CUDA_CHECK(cudaMemsetAsync(qft::ptr<void>(addr), 0, static_cast<size_t>(bytes), qft::stream()));
    return QFT_OK;
}

// kind follows cudaMemcpyKind: 1 host->device, 2 device->host, 3 device->device. Copies that touch
// host memory are synchronous for the caller (the host buffer may be a pinned Java array).
QFT_API int qft_cuda_memcpy(int32_t device, int64_t dst, int64_t src, int64_t bytes, int32_t kind) {
    QFT_CUDA_CHECK(cudaSetDevice(device));
    QFT_CUDA_CHECK(cudaMemcpyAsync(qft::ptr<void>(dst), qft::ptr<void>(src), static_cast<size_t>(bytes),
                                   static_cast<cudaMemcpyKind>(kind), qft::stream()));
    if (kind != cudaMemcpyDeviceToDevice) QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    return QFT_OK;
}

QFT_API int qft_cuda_synchronize(int32_t device) {
    QFT_CUDA_CHECK(cudaSetDevice(device));
    QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    return QFT_OK;
}

}  // extern "C"
