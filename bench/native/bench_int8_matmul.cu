// INT8 matmul kernels vs cuBLASLt (llm.c dev/cuda style). Build: part of the CMake CUDA build
// (target/native-bench/bin/bench_int8_matmul). Run on the GPU host:
//   bench_int8_matmul            all variants, all shapes
//   bench_int8_matmul 2          variant 2 only          bench_int8_matmul 2 8192   shapes whose M is 8192
// Variants, each first checked bit for bit against a naive GPU reference (itself spot-checked against the
// CPU reference int8_matmul_ref), then timed with L2 flushed before every run:
//   1  cuda-mma   (mma.sync m16n8k32, tile chosen per shape), int32 output
//   2  cuda-wgmma (sm_90a wgmma.mma_async), int32 output
//   3  auto kernel with the fused epilogue: row/col scales + bias, bf16 output (the training path);
//      checked against the documented epilogue evaluated on the host
//   4  cuda-tma   (sm_90a TMA + mbarrier pipeline, warp-specialized persistent wgmma), int32 output
// The peer, cuBLASLt INT8 (CUBLAS_COMPUTE_32I, int32 output, TN), is timed in the same run; printed: ms,
// TOPS, % of the H100 SXM dense INT8 peak (1979 TOPS) and our time relative to cuBLASLt (>1 = faster).
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bench_util.cuh"

#include "cublaslt_gemm.cuh"

#include "qft4j/int8_matmul.h"

extern "C" int qft_cuda_int8_matmul(int32_t device, int32_t kernel, int64_t a, int64_t row_scale, int64_t b, int64_t col_scale,
                                    int64_t bias, int64_t y, int32_t out_dtype, int32_t accumulate, int64_t M, int64_t N, int64_t K,
                                    int32_t i32_out, const char** name);
extern "C" int32_t qft_cuda_int8_matmul_has_kernel(int32_t device, int32_t kernel);


static const double kPeakTops = 1979.0;  // H100 SXM dense INT8
static cudaStream_t st = cudaStreamPerThread;

struct Shape {
    const char* what;
    long M, N, K;
};

// Plainly correct GPU reference: 16 x 16 outputs per block, A and B staged through shared memory 64 bytes of
// K at a time (so the loads coalesce), one int32 dot product per thread.
__global__ void naive_kernel(const int8_t* A, const int8_t* B, int32_t* C, long M, long N, long K) {
    __shared__ int8_t sa[16][64], sb[16][64];
    const long m = blockIdx.y * 16L + threadIdx.y, n = blockIdx.x * 16L + threadIdx.x;
    int32_t s = 0;
    for (long k0 = 0; k0 < K; k0 += 64) {
        for (int i = threadIdx.x; i < 64; i += 16) {
            const long k = k0 + i, am = blockIdx.y * 16L + threadIdx.y, bn = blockIdx.x * 16L + threadIdx.y;
            sa[threadIdx.y][i] = am < M && k < K ? A[am * K + k] : 0;
            sb[threadIdx.y][i] = bn < N && k < K ? B[bn * K + k] : 0;
        }
        __syncthreads();
        for (int i = 0; i < 64; ++i) s += int32_t(sa[threadIdx.y][i]) * int32_t(sb[threadIdx.x][i]);
        __syncthreads();
    }
    if (m < M && n < N) C[m * N + n] = s;
}

static int8_t* flush_buf;
static size_t flush_bytes;
static void flush_l2() { CK(cudaMemsetAsync(flush_buf, 0, flush_bytes, st)); }

// Mean ms of `reps` runs of fn, each preceded by an L2 flush that is not timed.
template <class F>
static double time_flushed_ms(F fn, int reps) {
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    fn();  // warm-up
    double total = 0;
    for (int r = 0; r < reps; ++r) {
        flush_l2();
        CK(cudaEventRecord(e0, st));
        fn();
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        total += ms;
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    return total / reps;
}


int main(int argc, char** argv) {
    int only = argc > 1 ? atoi(argv[1]) : 0;
    long only_m = argc > 2 ? atol(argv[2]) : 0;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs, L2 %d MB); peak used for %%: %.0f dense INT8 TOPS (H100 SXM)\n", prop.name, prop.major,
           prop.minor, prop.multiProcessorCount, prop.l2CacheSize >> 20, kPeakTops);
    flush_bytes = size_t(prop.l2CacheSize) * 4;
    CK(cudaMalloc(&flush_buf, flush_bytes));

    std::vector<Shape> shapes = {{"square", 4096, 4096, 4096}, {"square", 8192, 8192, 8192}};
    for (long T : {4096L, 16384L}) {
        shapes.push_back({"fwd qkvo/down-in (K=4096->N=4096)", T, 4096, 4096});
        shapes.push_back({"fwd gate/up (4096->11008)", T, 11008, 4096});
        shapes.push_back({"fwd down (11008->4096)", T, 4096, 11008});
        shapes.push_back({"dW 4096x4096, K=tokens", 4096, 4096, T});
        shapes.push_back({"dW gate/up 11008x4096, K=tokens", 11008, 4096, T});
        shapes.push_back({"dW down 4096x11008, K=tokens", 4096, 11008, T});
    }
    printf("%-34s %6s %6s %6s | %-24s %9s %8s %7s | %9s %8s | %6s\n", "shape", "M", "N", "K", "variant (kernel)", "ms", "TOPS",
           "%peak", "cublasLt", "TOPS", "ratio");

    std::mt19937 rng(42);
    for (const Shape& s : shapes) {
        if (only_m && s.M != only_m) continue;
        const long M = s.M, N = s.N, K = s.K;
        std::vector<int8_t> ha(M * K), hb(N * K);
        for (auto& v : ha) v = int8_t(rng());
        for (auto& v : hb) v = int8_t(rng());
        int8_t *A, *B;
        int32_t *C, *R;
        float *rs, *cs, *bias;
        void* Y;
        CK(cudaMalloc(&A, M * K));
        CK(cudaMalloc(&B, N * K));
        CK(cudaMalloc(&C, M * N * 4));
        CK(cudaMalloc(&R, M * N * 4));
        CK(cudaMalloc(&Y, M * N * 2));
        CK(cudaMalloc(&rs, M * 4));
        CK(cudaMalloc(&cs, N * 4));
        CK(cudaMalloc(&bias, N * 4));
        CK(cudaMemcpy(A, ha.data(), M * K, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(B, hb.data(), N * K, cudaMemcpyHostToDevice));
        std::vector<float> ones(M > N ? M : N, 1e-3f);
        CK(cudaMemcpy(rs, ones.data(), M * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(cs, ones.data(), N * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(bias, ones.data(), N * 4, cudaMemcpyHostToDevice));
        naive_kernel<<<dim3(unsigned((N + 15) / 16), unsigned((M + 15) / 16)), dim3(16, 16), 0, st>>>(A, B, R, M, N, K);
        CK(cudaGetLastError());
        std::vector<int32_t> ref(M * N), got(M * N);
        CK(cudaMemcpyAsync(ref.data(), R, M * N * 4, cudaMemcpyDeviceToHost, st));
        CK(cudaStreamSynchronize(st));
        // Spot check of the naive GPU reference against the CPU reference (the definition).
        for (int t = 0; t < 64; ++t) {
            long m = rng() % M, n = rng() % N;
            int32_t c = 0;
            if (qft_int8_matmul_i32(QFT_DEVICE_CPU, QFT_MM_CPU_REF, int64_t(ha.data() + m * K), int64_t(hb.data() + n * K), int64_t(&c), 1, 1,
                                    K) != 0 || c != ref[m * N + n]) {
                fprintf(stderr, "naive GPU reference disagrees with int8_matmul_ref at (%ld, %ld)\n", m, n);
                return 1;
            }
        }
        const double ops = 2.0 * M * N * K;
        double lt_ms = 0;
#ifdef QFT4J_HAVE_CUBLASLT
        {
            LtGemm lt(M, N, K, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I);
            if (lt.found) {
                lt.run(A, B, C);
                CK(cudaMemcpyAsync(got.data(), C, M * N * 4, cudaMemcpyDeviceToHost, st));
                CK(cudaStreamSynchronize(st));
                if (got != ref) printf("  (cuBLASLt result differs from the reference!)\n");
                lt_ms = time_flushed_ms([&] { lt.run(A, B, C); }, 10);
            }
        }
#endif
        for (int v = 1; v <= 4; ++v) {
            if (only && v != only) continue;
            const int32_t kernel = v == 1 ? QFT_MM_CUDA_MMA : v == 2 ? QFT_MM_CUDA_WGMMA : v == 4 ? QFT_MM_CUDA_TMA : QFT_MM_AUTO;
            if (!qft_cuda_int8_matmul_has_kernel(0, kernel)) {
                printf("%-34s %6ld %6ld %6ld | %d: not available on this GPU/library\n", s.what, M, N, K, v);
                continue;
            }
            const char* name = "";
            auto run = [&] {
                int status = v != 3 ? qft_cuda_int8_matmul(0, kernel, int64_t(A), 0, int64_t(B), 0, 0, int64_t(C), QFT_OUT_F32, 0, M, N, K, 1, &name)
                                   : qft_cuda_int8_matmul(0, kernel, int64_t(A), int64_t(rs), int64_t(B), int64_t(cs), int64_t(bias),
                                                          int64_t(Y), QFT_OUT_BF16, 0, M, N, K, 0, &name);
                if (status != 0) {
                    fprintf(stderr, "variant %d failed: %s\n", v, qft_last_error());
                    exit(1);
                }
            };
            long bad = 0;
            if (v != 3) {
                CK(cudaMemsetAsync(C, 0xff, M * N * 4, st));
                run();
                CK(cudaMemcpyAsync(got.data(), C, M * N * 4, cudaMemcpyDeviceToHost, st));
                CK(cudaStreamSynchronize(st));
                for (long i = 0; i < M * N; ++i) bad += got[i] != ref[i];
            } else {
                // The documented epilogue on the host: bf16(((float)acc * 1e-3) * 1e-3 + 1e-3), bit for bit.
                std::vector<uint16_t> y(M * N);
                run();
                CK(cudaMemcpyAsync(y.data(), Y, M * N * 2, cudaMemcpyDeviceToHost, st));
                CK(cudaStreamSynchronize(st));
                for (long i = 0; i < M * N; ++i) {
                    float e = float(ref[i]) * 1e-3f;
                    e = e * 1e-3f;
                    e = e + 1e-3f;
                    uint32_t u;
                    memcpy(&u, &e, 4);
                    bad += y[i] != uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
                }
            }
            if (bad) {
                printf("%-34s %6ld %6ld %6ld | %d (%s): WRONG, %ld of %ld outputs differ; not timed\n", s.what, M, N, K, v, name, bad, M * N);
                continue;
            }
            const double ms = time_flushed_ms(run, 10);
            const double tops = ops / ms / 1e9;
            char label[64];
            snprintf(label, sizeof label, "%d (%s)", v, name);
            printf("%-34s %6ld %6ld %6ld | %-24s %9.3f %8.1f %6.1f%% | %9.3f %8.1f | %6.3f\n", s.what, M, N, K, label, ms, tops,
                   100 * tops / kPeakTops, lt_ms, lt_ms > 0 ? ops / lt_ms / 1e9 : 0.0, lt_ms > 0 ? lt_ms / ms : 0.0);
        }
        cudaFree(A);
        cudaFree(B);
        cudaFree(C);
        cudaFree(R);
        cudaFree(Y);
        cudaFree(rs);
        cudaFree(cs);
        cudaFree(bias);
    }
    return 0;
}
