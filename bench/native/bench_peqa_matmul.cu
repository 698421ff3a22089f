// PEQA b-bit dequantize-in-the-matmul (qft_cuda_peqa_matmul, fp32 activations) against the bf16
// cuBLASLt GEMM on LLaMA-7B linear shapes, timed in the same run:
//   y (tokens, N) = x (tokens, K) · Wᵀ, W (N, K): q/k/v/o 4096x4096, gate/up 11008x4096, down 4096x11008.
// Prints ms, TFLOPS (2·tokens·N·K), weight GB/s (bytes of the stored weight per call) and the
// ratio cuBLASLt time / PEQA time (> 1: PEQA is faster). H100 SXM peaks: 989 dense bf16 TFLOPS (PEQA's
// tiles above 8 tokens run on bf16 tensor cores too), 67 fp32 TFLOPS (the <= 8-token GEMV), 3.35 TB/s HBM3.
// Also prints the relative difference of the two outputs (bf16 rounding of x and What, and cuBLASLt's bf16
// output, put it near 3e-3; a wrong index would put it near 1).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench_util.cuh"

#include "qft4j/peqa.h"

#include "cublaslt_gemm.cuh"

extern "C" int qft_cuda_peqa_matmul(int32_t device, int64_t x, int64_t tokens, int64_t codes, int64_t scales, int64_t zeros,
                                    int64_t rows, int64_t cols, int32_t bits, int64_t group_size, int64_t y);
extern "C" int qft_cuda_peqa_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t zeros, int64_t rows,
                                        int64_t cols, int32_t bits, int64_t group_size, int64_t w);


namespace {

constexpr double kPeakBf16Tflops = 989.0, kPeakFp32Tflops = 67.0, kPeakTBs = 3.35;

__global__ void to_bf16(const float* in, __nv_bfloat16* out, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16(in[i]);
}

struct Shape {
    const char* name;
    int64_t n, k;
};

}  // namespace

int main() {
    const int dev = 0;
    CK(cudaSetDevice(dev));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, dev));
    std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    const Shape shapes[] = {{"qkvo", 4096, 4096}, {"gate/up", 11008, 4096}, {"down", 4096, 11008}};
    const int64_t token_counts[] = {1, 8, 16, 512, 2048};
    const int bit_widths[] = {4, 3};
    const int64_t group = 128;
#ifndef QFT4J_HAVE_CUBLASLT
    std::printf("cuBLASLt not found at build time: PEQA timings only\n");
#endif
    std::printf("%-8s %5s %4s %6s | %9s %8s %8s | %9s %8s | %7s %9s\n", "shape", "bits", "grp", "tokens", "peqa ms",
                "TFLOPS", "GB/s", "bf16 ms", "TFLOPS", "ratio", "rel diff");
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (const Shape& s : shapes) {
        std::vector<float> w(s.n * s.k);
        for (float& v : w) v = normal(rng);
        for (int bits : bit_widths) {
            int64_t words = qft_peqa_words_per_row(bits, s.k), groups = (s.k + group - 1) / group;
            std::vector<uint32_t> codes(s.n * words);
            std::vector<float> scales(s.n * groups);
            std::vector<uint8_t> zeros(s.n * groups);
            QK(qft_peqa_quantize_rtn(QFT_DEVICE_CPU, (int64_t)w.data(), s.n, s.k, bits, group, (int64_t)codes.data(),
                                     (int64_t)scales.data(), (int64_t)zeros.data()));
            uint32_t* d_codes;
            float *d_scales, *d_w, *d_x, *d_y;
            uint8_t* d_zeros;
            __nv_bfloat16 *d_wb, *d_xb, *d_yb;
            const int64_t max_tokens = token_counts[4];
            CK(cudaMalloc(&d_codes, codes.size() * 4));
            CK(cudaMalloc(&d_scales, scales.size() * 4));
            CK(cudaMalloc(&d_zeros, zeros.size()));
            CK(cudaMalloc(&d_w, s.n * s.k * 4));
            CK(cudaMalloc(&d_wb, s.n * s.k * 2));
            CK(cudaMalloc(&d_x, max_tokens * s.k * 4));
            CK(cudaMalloc(&d_xb, max_tokens * s.k * 2));
            CK(cudaMalloc(&d_y, max_tokens * s.n * 4));
            CK(cudaMalloc(&d_yb, max_tokens * s.n * 2));
            CK(cudaMemcpy(d_codes, codes.data(), codes.size() * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(d_scales, scales.data(), scales.size() * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(d_zeros, zeros.data(), zeros.size(), cudaMemcpyHostToDevice));
            QK(qft_cuda_peqa_dequantize(dev, (int64_t)d_codes, (int64_t)d_scales, (int64_t)d_zeros, s.n, s.k, bits, group,
                                        (int64_t)d_w));
            to_bf16<<<1024, 256, 0, cudaStreamPerThread>>>(d_w, d_wb, s.n * s.k);
            std::vector<float> x(max_tokens * s.k);
            std::normal_distribution<float> unit(0.0f, 1.0f);
            for (float& v : x) v = unit(rng);
            CK(cudaMemcpy(d_x, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
            to_bf16<<<1024, 256, 0, cudaStreamPerThread>>>(d_x, d_xb, max_tokens * s.k);
            CK(cudaStreamSynchronize(cudaStreamPerThread));
            const double weight_bytes = codes.size() * 4.0 + scales.size() * 5.0;
            for (int64_t tokens : token_counts) {
                const double flops = 2.0 * tokens * s.n * s.k;
                const int iters = tokens >= 512 ? 10 : 50;
                float peqa_ms = time_ms([&] {
                    QK(qft_cuda_peqa_matmul(dev, (int64_t)d_x, tokens, (int64_t)d_codes, (int64_t)d_scales, (int64_t)d_zeros,
                                            s.n, s.k, bits, group, (int64_t)d_y));
                }, iters);
                float lt_ms = NAN;
                double rel = NAN;
#ifdef QFT4J_HAVE_CUBLASLT
                // bf16 in and out, fp32 accumulation: the usual bf16 linear layer.
                LtGemm lt(tokens, s.n, s.k, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F);
                if (lt.found) {
                    lt_ms = time_ms([&] { lt.run(d_xb, d_wb, d_yb); }, iters);
                    std::vector<__nv_bfloat16> yb(tokens * s.n);
                    std::vector<float> y(tokens * s.n);
                    CK(cudaMemcpy(yb.data(), d_yb, yb.size() * 2, cudaMemcpyDeviceToHost));
                    CK(cudaMemcpy(y.data(), d_y, y.size() * 4, cudaMemcpyDeviceToHost));
                    double num = 0, den = 0;
                    for (size_t i = 0; i < y.size(); ++i) {
                        double r = __bfloat162float(yb[i]);
                        num += (y[i] - r) * (y[i] - r);
                        den += r * r;
                    }
                    rel = std::sqrt(num / den);
                }
#endif
                double peqa_tflops = flops / (peqa_ms * 1e9), lt_tflops = flops / (lt_ms * 1e9);
                std::printf("%-8s %5d %4lld %6lld | %9.4f %8.2f %8.0f | %9.4f %8.2f | %7.2f %9.2e\n", s.name, bits,
                            (long long)group, (long long)tokens, peqa_ms, peqa_tflops, weight_bytes / (peqa_ms * 1e6), lt_ms,
                            lt_tflops, lt_ms / peqa_ms, rel);
                std::printf("%-33s   (%.1f%% of %s peak, %.1f%% of HBM) | (%.1f%% of bf16 peak)\n", "",
                            100.0 * peqa_tflops / (tokens <= 8 ? kPeakFp32Tflops : kPeakBf16Tflops), tokens <= 8 ? "fp32" : "bf16",
                            100.0 * weight_bytes / (peqa_ms * 1e6) / (kPeakTBs * 1e3), 100.0 * lt_tflops / kPeakBf16Tflops);
            }
            cudaFree(d_codes), cudaFree(d_scales), cudaFree(d_zeros), cudaFree(d_w), cudaFree(d_wb);
            cudaFree(d_x), cudaFree(d_xb), cudaFree(d_y), cudaFree(d_yb);
        }
    }
    return 0;
}
