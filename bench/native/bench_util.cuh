// Shared by the native kernel benches: fail-fast checks and an event timer on the per-thread stream.
#pragma once

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#include "qft4j/core.h"

// A failed CUDA call ends the bench with the call and CUDA's message.
#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

// A failed qft_* call ends the bench with qft's message.
#define QK(call)                                                                             \
    do {                                                                                     \
        if ((call) != 0) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, qft_last_error()); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

// Mean milliseconds of f() over `iters` runs on the per-thread stream, after 3 warm-up runs.
template <class F>
float time_ms(F&& f, int iters) {
    for (int i = 0; i < 3; ++i) f();
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    CK(cudaEventRecord(a, cudaStreamPerThread));
    for (int i = 0; i < iters; ++i) f();
    CK(cudaEventRecord(b, cudaStreamPerThread));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return ms / iters;
}
