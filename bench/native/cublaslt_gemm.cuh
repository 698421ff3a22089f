// cuBLASLt, the peer the native benches time in the same run: Y (M,N) row-major = X (M,K) . W (N,K)^T, the "TN"
// GEMM of a linear layer. One algorithm per shape, from cuBLASLt's heuristic with a 64 MiB workspace.
// Only where the build found cuBLASLt (QFT4J_HAVE_CUBLASLT, see cmake/Qft4jOptions.cmake).
#pragma once

#ifdef QFT4J_HAVE_CUBLASLT
#include <cublasLt.h>

#include <cstdint>

#include "bench_util.cuh"

#define LT(call)                                                                                  \
    do {                                                                                          \
        cublasStatus_t s_ = (call);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                        \
            fprintf(stderr, "%s:%d: %s: cuBLAS status %d\n", __FILE__, __LINE__, #call, int(s_)); \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

// Row-major Y (M,N) = X W^T is column-major Y^T (N x M) = op_T(W, column-major K x N) . X (column-major K x M).
// in/out/compute/scale: (8I, 32I, 32I, 32I) for INT8, (16BF, 16BF, 32F, 32F) for bf16, (32F, 32F, 32F, 32F) for fp32.
struct LtGemm {
    cublasLtHandle_t h;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t lw, lx, ly;
    cublasLtMatmulAlgo_t algo;
    bool found = false;
    bool int_scale;
    void* ws = nullptr;
    size_t ws_bytes = size_t(64) << 20;

    LtGemm(int64_t M, int64_t N, int64_t K, cudaDataType_t in, cudaDataType_t out, cublasComputeType_t compute,
           cudaDataType_t scale)
        : int_scale(scale == CUDA_R_32I) {
        LT(cublasLtCreate(&h));
        LT(cublasLtMatmulDescCreate(&desc, compute, scale));
        cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
        LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
        LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n));
        LT(cublasLtMatrixLayoutCreate(&lw, in, K, N, K));
        LT(cublasLtMatrixLayoutCreate(&lx, in, K, M, K));
        LT(cublasLtMatrixLayoutCreate(&ly, out, N, M, N));
        CK(cudaMalloc(&ws, ws_bytes));
        cublasLtMatmulPreference_t pref;
        LT(cublasLtMatmulPreferenceCreate(&pref));
        LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes));
        cublasLtMatmulHeuristicResult_t res;
        int count = 0;
        LT(cublasLtMatmulAlgoGetHeuristic(h, desc, lw, lx, ly, ly, pref, 1, &res, &count));
        LT(cublasLtMatmulPreferenceDestroy(pref));
        found = count > 0;
        if (found) algo = res.algo;
        else fprintf(stderr, "cuBLASLt has no algorithm for (%lld, %lld, %lld): no peer for this shape\n", (long long)M,
                     (long long)N, (long long)K);
    }

    // Y = X W^T on the per-thread stream; only when `found`.
    void run(const void* X, const void* W, void* Y) {
        const int32_t one_i = 1, zero_i = 0;
        const float one_f = 1.0f, zero_f = 0.0f;
        const void* alpha = int_scale ? static_cast<const void*>(&one_i) : &one_f;
        const void* beta = int_scale ? static_cast<const void*>(&zero_i) : &zero_f;
        LT(cublasLtMatmul(h, desc, alpha, W, lw, X, lx, beta, Y, ly, Y, ly, &algo, ws, ws_bytes, cudaStreamPerThread));
    }

    ~LtGemm() {
        cublasLtMatrixLayoutDestroy(lw);
        cublasLtMatrixLayoutDestroy(lx);
        cublasLtMatrixLayoutDestroy(ly);
        cublasLtMatmulDescDestroy(desc);
        cublasLtDestroy(h);
        cudaFree(ws);
    }
    LtGemm(const LtGemm&) = delete;
    LtGemm& operator=(const LtGemm&) = delete;
};
#endif
