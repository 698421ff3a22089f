// Bench of QFT's fused quantized Lion step and of the hybrid matmul's sparse add (issue 5).
//
//   bench_lion_step [layers]      (default 32: LLaMA-7B; fewer layers scale the parameter set down)
//   bench_lion_step --sparse-only (part 2 alone)
//
// 1. Lion: one qft_cuda_quant_lion_step over a LLaMA-7B parameter set (embedding, 32 x {wq, wk, wv, wo,
//    w1, w2, w3}, lm_head: 6.74e9 parameters, about 21 GB of INT8 weights/gradients/momentum, 1% fp32
//    outliers, 256-element gradient/momentum blocks). Prints ms per step, GB/s of compulsory traffic and
//    % of the H100 SXM HBM3 peak (3.35 TB/s). Goal: >= 85% of peak, a 7B step in <= 12 ms.
// 2. Sparse add: qft_cuda_hybrid_sparse_add (1% outliers) next to the dense GEMM of the same shape
//    (cuBLASLt INT8 -> INT32 and BF16, when built with QFT4J_HAVE_CUBLASLT), printed as % of the GEMM.
//    Goal: <= 5% of the dense GEMM at LLaMA-7B shapes. Each shape is checked once against a host loop
//    on a few tokens (relative error printed). Then the backward's outlier part: S^T built per call
//    (qft_cuda_hybrid_sparse_transpose) and dX (tokens, K) += dY (tokens, M) S as the sparse add over it. The floor: the op is nnz * tokens FMAs whose x operand is
//    gathered, one 4-byte shared-memory read each; an H100 SM reads 128 B of shared memory per clock
//    (32 floats) against 128 FP32 FMAs, so at 132 SMs x 1.98 GHz (boost) the gathers alone take
//    nnz * tokens * 4 B / 33.4 TB/s (printed as "floor"), 4x the FMA bound nnz * tokens / 33.4 T FMA/s.
// 3. Lazy outlier re-selection as qft_hybrid_reselect runs it (dequantize, radix-select the 1% largest |w|, requantize)
//    on each LLaMA-7B matrix shape, the cost of re-selecting the whole model, and that cost spread over a
//    re-selection interval, as % of a Lion step.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench_util.cuh"

#include "qft4j/hybrid_weight.h"
#include "qft4j/lion_step.h"

#include "cublaslt_gemm.cuh"

extern "C" int qft_cuda_quant_lion_step(int32_t, const int64_t*, int64_t, float, float, float, float, int64_t, int64_t,
                                        int32_t, int64_t);
extern "C" int qft_cuda_hybrid_sparse_add(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
extern "C" int qft_cuda_hybrid_sparse_transpose(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                                int64_t, int64_t);
extern "C" int qft_cuda_hybrid_quantize(int32_t, int64_t, int64_t, int64_t, double, int32_t, int64_t, int64_t, int64_t, int64_t,
                                        int64_t, int64_t);
extern "C" int qft_cuda_hybrid_dequantize(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);


constexpr double kPeakBytesPerS = 3.35e12;
constexpr int kBlock = 256;
constexpr double kOutliers = 0.01;

__global__ void fill_codes(int8_t* p, int64_t n, uint32_t salt) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ salt;
        h ^= h >> 15;
        p[i] = (int8_t)((int)(h % 255u) - 127);
    }
}

__global__ void fill_f32(float* p, int64_t n, float v, int alternate) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        p[i] = alternate && (i & 1) ? -v : v;
}

// k outliers per row, evenly spaced: the per-tensor 1% split gives about this many per row.
__global__ void fill_csr(int32_t* row_ptr, int32_t* col_idx, int64_t rows, int64_t cols, int64_t k) {
    for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x) {
        row_ptr[r + 1] = (int32_t)((r + 1) * k);
        if (r == 0) row_ptr[0] = 0;
        for (int64_t j = 0; j < k; ++j) col_idx[r * k + j] = (int32_t)(j * (cols / k) + (r % (cols / k)));
    }
}

struct Tensor {
    int64_t rows, cols, k, nnz;
    int8_t *w, *g, *m;
    float *ws, *gs, *ms, *values;
    int32_t *row_ptr, *col_idx;
    int64_t bytes_moved() const {  // compulsory DRAM traffic of one step
        const int64_t n = rows * cols, nb = rows * ((cols + kBlock - 1) / kBlock);
        return n * 5 + nb * 4 * 3 + rows * 4 * 3 + (rows + 1) * 4 + nnz * (4 + 4 + 4);  // g,w,m read, w,m written
    }
};

Tensor make(int64_t rows, int64_t cols) {
    Tensor t{rows, cols, (int64_t)(cols * kOutliers + 0.5), 0};
    t.nnz = rows * t.k;
    const int64_t n = rows * cols, nb = rows * ((cols + kBlock - 1) / kBlock);
    CK(cudaMalloc(&t.w, n));
    CK(cudaMalloc(&t.g, n));
    CK(cudaMalloc(&t.m, n));
    CK(cudaMalloc(&t.ws, rows * 4));
    CK(cudaMalloc(&t.gs, nb * 4));
    CK(cudaMalloc(&t.ms, nb * 4));
    CK(cudaMalloc(&t.values, t.nnz * 4 + 4));
    CK(cudaMalloc(&t.row_ptr, (rows + 1) * 4));
    CK(cudaMalloc(&t.col_idx, t.nnz * 4 + 4));
    fill_codes<<<1024, 256>>>(t.w, n, 1);
    fill_codes<<<1024, 256>>>(t.g, n, 2);
    fill_codes<<<1024, 256>>>(t.m, n, 3);
    fill_f32<<<256, 256>>>(t.ws, rows, 2e-4f, 0);
    fill_f32<<<256, 256>>>(t.gs, nb, 1e-4f, 0);
    fill_f32<<<256, 256>>>(t.ms, nb, 1e-5f, 0);
    fill_f32<<<256, 256>>>(t.values, t.nnz, 0.1f, 1);
    fill_csr<<<256, 256>>>(t.row_ptr, t.col_idx, rows, cols, t.k);
    CK(cudaGetLastError());
    return t;
}

void free_tensor(Tensor& t) {
    for (void* p : {(void*)t.w, (void*)t.g, (void*)t.m, (void*)t.ws, (void*)t.gs, (void*)t.ms, (void*)t.values,
                    (void*)t.row_ptr, (void*)t.col_idx})
        CK(cudaFree(p));
}

std::vector<int64_t> descriptors(const std::vector<Tensor>& ts) {
    std::vector<int64_t> d(ts.size() * QFT_LION_DESC_FIELDS);
    for (size_t i = 0; i < ts.size(); ++i) {
        int64_t* r = &d[i * QFT_LION_DESC_FIELDS];
        const Tensor& t = ts[i];
        r[QFT_LION_ROWS] = t.rows;
        r[QFT_LION_COLS] = t.cols;
        r[QFT_LION_TENSOR_ID] = (int64_t)i;
        r[QFT_LION_W_CODES] = (int64_t)t.w;
        r[QFT_LION_W_SCALES] = (int64_t)t.ws;
        r[QFT_LION_ROW_PTR] = (int64_t)t.row_ptr;
        r[QFT_LION_COL_IDX] = (int64_t)t.col_idx;
        r[QFT_LION_VALUES] = (int64_t)t.values;
        r[QFT_LION_G_CODES] = (int64_t)t.g;
        r[QFT_LION_G_SCALES] = (int64_t)t.gs;
        r[QFT_LION_G_BLOCK] = kBlock;
        r[QFT_LION_M_CODES] = (int64_t)t.m;
        r[QFT_LION_M_SCALES] = (int64_t)t.ms;
        r[QFT_LION_M_BLOCK] = kBlock;
    }
    return d;
}

float bench_lion(int layers) {
    const int64_t C = 4096, H = 11008, V = 32000;
    std::vector<Tensor> ts;
    ts.push_back(make(V, C));
    for (int l = 0; l < layers; ++l) {
        for (int i = 0; i < 4; ++i) ts.push_back(make(C, C));
        ts.push_back(make(H, C));
        ts.push_back(make(C, H));
        ts.push_back(make(H, C));
    }
    ts.push_back(make(V, C));
    int64_t params = 0, bytes = 0;
    for (auto& t : ts) params += t.rows * t.cols, bytes += t.bytes_moved();
    CK(cudaDeviceSynchronize());
    const std::vector<int64_t> desc = descriptors(ts);
    int* flag = nullptr;
    CK(cudaMalloc(&flag, sizeof(int)));
    // lr 0 keeps the weights bounded over the repetitions; the kernel's work does not depend on lr.
    int64_t step = 0;
    float ms = time_ms([&] {
        QK(qft_cuda_quant_lion_step(0, desc.data(), (int64_t)ts.size(), 0.0f, 0.9f, 0.99f, 0.1f, step++, 1234, 0, (int64_t)flag));
    }, 10);
    int h_flag = 1;
    CK(cudaMemcpy(&h_flag, flag, sizeof(int), cudaMemcpyDeviceToHost));
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    printf("lion_step: %d layers, %zu tensors, %.3f G params, %.2f GB moved: %.3f ms/step, %.1f GB/s, %.1f%% of %.2f TB/s HBM peak"
           " (goal >= 85%%; 7B step <= 12 ms)%s\n",
           layers, ts.size(), params / 1e9, bytes / 1e9, ms, gbs, 100 * gbs * 1e9 / kPeakBytesPerS, kPeakBytesPerS / 1e12,
           h_flag ? "  [WARNING: non-finite flag set, the step was skipped]" : "");
    CK(cudaFree(flag));
    for (auto& t : ts) free_tensor(t);
    return ms;
}

#ifdef QFT4J_HAVE_CUBLASLT
// ms of cuBLASLt's y (tokens, M) = x (tokens, K) W (M, K)^T, INT8 -> INT32 or bf16 -> bf16; -1 without an algorithm.
float dense_gemm_ms(int64_t M, int64_t K, int64_t tokens, bool int8) {
    LtGemm lt(tokens, M, K, int8 ? CUDA_R_8I : CUDA_R_16BF, int8 ? CUDA_R_32I : CUDA_R_16BF,
              int8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F, int8 ? CUDA_R_32I : CUDA_R_32F);
    const size_t esz = int8 ? 1 : 2, osz = int8 ? 4 : 2;
    void *W, *X, *Y;
    CK(cudaMalloc(&W, M * K * esz));
    CK(cudaMalloc(&X, K * tokens * esz));
    CK(cudaMalloc(&Y, M * tokens * osz));
    CK(cudaMemset(W, 1, M * K * esz));
    CK(cudaMemset(X, 1, K * tokens * esz));
    const float ms = lt.found ? time_ms([&] { lt.run(X, W, Y); }, 20) : -1.0f;
    for (void* p : {W, X, Y}) CK(cudaFree(p));
    return ms;
}
#endif

// Heavy-tailed weights (a cubed uniform, like trained LLaMA weights' few large values), from a hash of the index.
__global__ void fill_weights(float* p, int64_t n, uint32_t salt) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = ((uint32_t)i ^ salt) * 2654435761u;
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        h ^= h >> 15;
        const float u = (h >> 8) * (2.0f / 16777216.0f) - 1.0f;
        p[i] = 0.05f * u * u * u;
    }
}

// Max over sampled tokens and all rows of |y - ref| / (sum_j |v_j x_j| + 1e-30), ref in double on the host.
double sparse_add_check(const Tensor& t, const float* d_x, const float* d_y, int64_t tokens) {
    const int64_t M = t.rows, K = t.cols;
    std::vector<int32_t> ptr(M + 1), idx(t.nnz);
    std::vector<float> val(t.nnz), x(tokens * K), y(tokens * M);
    CK(cudaMemcpy(ptr.data(), t.row_ptr, ptr.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(idx.data(), t.col_idx, idx.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(val.data(), t.values, val.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(x.data(), d_x, x.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(y.data(), d_y, y.size() * 4, cudaMemcpyDeviceToHost));
    double worst = 0;
    for (int64_t tk : {(int64_t)0, (int64_t)1, (int64_t)63, (int64_t)64, tokens / 2 + 5, tokens - 1})
        for (int64_t r = 0; r < M; ++r) {
            double ref = 0, mag = 0;
            for (int32_t j = ptr[r]; j < ptr[r + 1]; ++j) {
                ref += (double)val[j] * x[tk * K + idx[j]];
                mag += std::fabs((double)val[j] * x[tk * K + idx[j]]);
            }
            worst = std::max(worst, std::fabs(y[tk * M + r] - ref) / (mag + 1e-30));
        }
    return worst;
}

void bench_sparse_add() {
    const int64_t tokens = 4096;
    const int64_t shapes[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
    for (auto& s : shapes) {
        const int64_t M = s[0], K = s[1];
        Tensor t = make(M, K);
        float *x, *y;
        CK(cudaMalloc(&x, tokens * K * 4));
        CK(cudaMalloc(&y, tokens * M * 4));
        fill_weights<<<1024, 256>>>(x, tokens * K, 11);
        fill_weights<<<1024, 256>>>(t.values, t.nnz, 12);
        CK(cudaMemset(y, 0, tokens * M * 4));
        CK(cudaDeviceSynchronize());
        QK(qft_cuda_hybrid_sparse_add(0, M, K, (int64_t)t.row_ptr, (int64_t)t.col_idx, (int64_t)t.values, (int64_t)x, tokens,
                                      (int64_t)y));
        CK(cudaDeviceSynchronize());
        const double err = sparse_add_check(t, x, y, tokens);
        float sp = time_ms([&] {
            QK(qft_cuda_hybrid_sparse_add(0, M, K, (int64_t)t.row_ptr, (int64_t)t.col_idx, (int64_t)t.values, (int64_t)x, tokens,
                                          (int64_t)y));
        }, 20);
        const double pairs = (double)t.nnz * tokens, floor_ms = pairs * 4 / 33.4e12 * 1e3;
        printf("sparse_add: W (%lld, %lld), %lld outliers (1%%), %lld tokens: %.4f ms (%.0f G outlier-token FMAs/s; floor %.4f ms,"
               " %.0f%% of it); max rel err vs host %.1e%s",
               (long long)M, (long long)K, (long long)t.nnz, (long long)tokens, sp, pairs / (sp * 1e6), floor_ms,
               100 * floor_ms / sp, err, err < 1e-5 ? "" : "  [MISMATCH]");
#ifdef QFT4J_HAVE_CUBLASLT
        float i8 = dense_gemm_ms(M, K, tokens, true), bf = dense_gemm_ms(M, K, tokens, false);
        const double flops = 2.0 * M * K * tokens;
        if (i8 > 0) printf("; cuBLASLt INT8 GEMM %.4f ms (%.0f TOPS): sparse add = %.1f%% of it (goal <= 5%%)", i8, flops / i8 / 1e9, 100 * sp / i8);
        if (bf > 0) printf("; BF16 GEMM %.4f ms (%.0f TFLOPS): %.1f%%", bf, flops / bf / 1e9, 100 * sp / bf);
#else
        printf("; no cuBLASLt in this build: no dense GEMM to compare with");
#endif
        printf("\n");
        int32_t *tp, *ti;  // S^T: (K+1) row pointers, (nnz) rows
        float* tv;         // (nnz) values
        CK(cudaMalloc(&tp, (K + 1) * 4));
        CK(cudaMalloc(&ti, t.nnz * 4 + 4));
        CK(cudaMalloc(&tv, t.nnz * 4 + 4));
        int* bad;  // the backward's form: nnz bound known, offences counted on the device, no host sync
        CK(cudaMalloc(&bad, 4));
        const float tr = time_ms([&] {
            QK(qft_cuda_hybrid_sparse_transpose(0, M, K, (int64_t)t.row_ptr, (int64_t)t.col_idx, (int64_t)t.values, (int64_t)tp,
                                                (int64_t)ti, (int64_t)tv, t.nnz, (int64_t)bad));
        }, 20);
        const float bw = time_ms([&] {  // x (tokens, K) += y (tokens, M) S
            QK(qft_cuda_hybrid_sparse_add(0, K, M, (int64_t)tp, (int64_t)ti, (int64_t)tv, (int64_t)y, tokens, (int64_t)x));
        }, 20);
        printf("sparse_add backward: S^T of W (%lld, %lld) %.4f ms, dX (%lld, %lld) += dY S over it %.4f ms (%.0f G outlier-token"
               " FMAs/s): %.4f ms\n", (long long)M, (long long)K, tr, (long long)tokens, (long long)K, bw, pairs / (bw * 1e6),
               tr + bw);
        for (void* p : {(void*)tp, (void*)ti, (void*)tv, (void*)bad, (void*)x, (void*)y}) CK(cudaFree(p));
        free_tensor(t);
    }
}


// Returns the ms of one re-selection of a (rows, cols) hybrid weight at 1% outliers, one threshold per tensor.
float bench_reselect_shape(int64_t rows, int64_t cols) {
    const int64_t n = rows * cols;
    int64_t nnz = 0;
    QK(qft_hybrid_nnz(rows, cols, kOutliers, 0, &nnz));
    float* w;
    int8_t* codes;
    float *scales, *values;
    int32_t *row_ptr, *col_idx;
    CK(cudaMalloc(&w, n * 4));
    CK(cudaMalloc(&codes, n));
    CK(cudaMalloc(&scales, rows * 4));
    CK(cudaMalloc(&row_ptr, (rows + 1) * 4));
    CK(cudaMalloc(&col_idx, nnz * 4 + 4));
    CK(cudaMalloc(&values, nnz * 4 + 4));
    fill_weights<<<1024, 256>>>(w, n, (uint32_t)rows);
    CK(cudaDeviceSynchronize());
    QK(qft_cuda_hybrid_quantize(0, (int64_t)w, rows, cols, kOutliers, 0, (int64_t)codes, (int64_t)scales, (int64_t)row_ptr,
                                (int64_t)col_idx, (int64_t)values, nnz));
    const float ms = time_ms([&] {
        QK(qft_cuda_hybrid_dequantize(0, rows, cols, (int64_t)codes, (int64_t)scales, (int64_t)row_ptr, (int64_t)col_idx,
                                      (int64_t)values, (int64_t)w));
        QK(qft_cuda_hybrid_quantize(0, (int64_t)w, rows, cols, kOutliers, 0, (int64_t)codes, (int64_t)scales, (int64_t)row_ptr,
                                    (int64_t)col_idx, (int64_t)values, nnz));
    }, 5);
    printf("reselect: W (%lld, %lld), %lld outliers: %.3f ms (%.2f G weights/s)\n", (long long)rows, (long long)cols,
           (long long)nnz, ms, n * 1.0 / (ms * 1e-3) / 1e9);
    for (void* p : {(void*)w, (void*)codes, (void*)scales, (void*)row_ptr, (void*)col_idx, (void*)values}) CK(cudaFree(p));
    return ms;
}

void bench_reselect(int layers, float lion_ms) {
    const int64_t C = 4096, H = 11008, V = 32000;
    const float sq = bench_reselect_shape(C, C), up = bench_reselect_shape(H, C), down = bench_reselect_shape(C, H),
                emb = bench_reselect_shape(V, C);
    const double model = 2 * emb + layers * (4.0 * sq + 2.0 * up + down);
    printf("reselect: the whole %d-layer model %.1f ms = %.1f Lion steps; every 100 steps that is %.2f%% of training's optimizer "
           "time, every 1000 steps %.3f%%\n", layers, model, model / lion_ms, 100 * model / (100 * lion_ms),
           100 * model / (1000 * lion_ms));
}

int main(int argc, char** argv) {
    const bool sparse_only = argc > 1 && strcmp(argv[1], "--sparse-only") == 0;
    const int layers = argc > 1 && !sparse_only ? atoi(argv[1]) : 32;
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("device: %s (sm_%d%d, %zu GiB)\n", p.name, p.major, p.minor, p.totalGlobalMem >> 30);
    if (sparse_only) {
        bench_sparse_add();
        return 0;
    }
    const float lion_ms = bench_lion(layers);
    bench_sparse_add();
    bench_reselect(layers, lion_ms);
    return 0;
}
