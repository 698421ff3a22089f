// The LLaMA engine's fp32 CUDA ops at LLaMA-7B layer shapes (issue 6): the tiled SGEMM in its three
// linear-layer forms and causal attention forward + backward. Build: part of the CMake CUDA build
// (target/native-bench/bin/bench_engine_f32). Run on the GPU host:
//   bench_engine_f32 [tokens]      (default 2048 tokens = one sequence of 2048)
// Each SGEMM form is first spot-checked against a double-precision dot product on the host, then timed;
// printed: ms, TFLOPS, % of the H100 SXM fp32 (non-tensor-core) peak of 67 TFLOPS, and, when built with
// cuBLASLt, cuBLASLt's fp32 GEMM (CUBLAS_COMPUTE_32F, no TF32) of the same FLOPs timed in the same run and
// our speed relative to it (>1 = faster). The engine's kernels favour simple deterministic arithmetic;
// this bench measures the price of that.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench_util.cuh"

#include "cublaslt_gemm.cuh"

extern "C" int qft_cuda_matmul_f32_nt(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t);
extern "C" int qft_cuda_matmul_f32_nn(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t);
extern "C" int qft_cuda_matmul_f32_tn(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t);
extern "C" int qft_cuda_attention_forward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                          int64_t, int64_t);
extern "C" int qft_cuda_attention_backward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                           int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);

constexpr double kPeakTflops = 67.0;  // H100 SXM fp32 without tensor cores

static int64_t addr(const void* p) { return (int64_t)(uintptr_t)p; }

static float* device_random(size_t n, std::mt19937& rng, std::vector<float>* host) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    host->resize(n);
    for (auto& v : *host) v = g(rng);
    float* d = nullptr;
    CK(cudaMalloc(&d, n * 4));
    CK(cudaMemcpy(d, host->data(), n * 4, cudaMemcpyHostToDevice));
    return d;
}

struct Linear {
    const char* name;
    long out, in;
};

int main(int argc, char** argv) {
    const long T = argc > 1 ? atol(argv[1]) : 2048;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs); peak used for %%: %.0f fp32 TFLOPS (H100 SXM, no tensor cores); tokens %ld\n", prop.name,
           prop.major, prop.minor, prop.multiProcessorCount, kPeakTflops, T);
    printf("%-28s %-22s %9s %8s %7s | %9s %8s | %6s\n", "layer", "form", "ms", "TFLOPS", "%peak", "cublasLt", "TFLOPS", "ratio");
    std::mt19937 rng(7);
    const Linear linears[] = {{"wq/wk/wv/wo 4096x4096", 4096, 4096}, {"w1/w3 11008x4096", 11008, 4096}, {"w2 4096x11008", 4096, 11008}};
    for (const Linear& l : linears) {
        std::vector<float> hx, hw, hdy;
        float *x = device_random(T * l.in, rng, &hx), *w = device_random(l.out * l.in, rng, &hw), *dy = device_random(T * l.out, rng, &hdy);
        float *y, *dx, *dw;
        CK(cudaMalloc(&y, T * l.out * 4));
        CK(cudaMalloc(&dx, T * l.in * 4));
        CK(cudaMalloc(&dw, l.out * l.in * 4));
        QK(qft_cuda_matmul_f32_nt(0, addr(x), addr(w), T, l.out, l.in, addr(y), 0));
        std::vector<float> hy(T * l.out);
        CK(cudaMemcpy(hy.data(), y, hy.size() * 4, cudaMemcpyDeviceToHost));
        for (int s = 0; s < 32; ++s) {  // spot check of y = x w^T
            long t = rng() % T, r = rng() % l.out;
            double ref = 0, mag = 0;
            for (long c = 0; c < l.in; ++c) {
                ref += (double)hx[t * l.in + c] * hw[r * l.in + c];
                mag += std::fabs((double)hx[t * l.in + c] * hw[r * l.in + c]);
            }
            if (std::fabs(hy[t * l.out + r] - ref) > 1e-5 * mag) {
                fprintf(stderr, "%s: y[%ld, %ld] = %g, expected %g\n", l.name, t, r, hy[t * l.out + r], ref);
                return 1;
            }
        }
        const double flops = 2.0 * T * l.out * l.in;
        float peer_ms = 0;
#ifdef QFT4J_HAVE_CUBLASLT
        LtGemm lt(T, l.out, l.in, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F);
        if (lt.found) peer_ms = time_ms([&] { lt.run(x, w, y); }, 10);
#endif
        struct Form {
            const char* name;
            int which;
        } forms[] = {{"y = x wT (nt)", 0}, {"dx = dy w (nn)", 1}, {"dw += dyT x (tn)", 2}};
        for (const Form& f : forms) {
            float ms = time_ms(
                [&] {
                    if (f.which == 0) QK(qft_cuda_matmul_f32_nt(0, addr(x), addr(w), T, l.out, l.in, addr(y), 0));
                    if (f.which == 1) QK(qft_cuda_matmul_f32_nn(0, addr(dy), addr(w), T, l.out, l.in, addr(dx), 0));
                    if (f.which == 2) QK(qft_cuda_matmul_f32_tn(0, addr(dy), addr(x), T, l.out, l.in, addr(dw), 1));
                },
                10);
            double tf = flops / (ms * 1e-3) / 1e12;
            if (peer_ms > 0)
                printf("%-28s %-22s %9.3f %8.2f %6.1f%% | %9.3f %8.2f | %6.2f\n", l.name, f.name, ms, tf, 100 * tf / kPeakTflops, peer_ms,
                       flops / (peer_ms * 1e-3) / 1e12, peer_ms / ms);
            else
                printf("%-28s %-22s %9.3f %8.2f %6.1f%% | %9s %8s | %6s\n", l.name, f.name, ms, tf, 100 * tf / kPeakTflops, "-", "-", "-");
        }
        CK(cudaFree(x));
        CK(cudaFree(w));
        CK(cudaFree(dy));
        CK(cudaFree(y));
        CK(cudaFree(dx));
        CK(cudaFree(dw));
    }

    // Causal attention, LLaMA-7B heads: 32 heads of 128, one sequence of T (probabilities kept, as in training).
    const long nh = 32, hs = 128, B = 1;
    std::vector<float> hq, hk, hv, hdo;
    float *q = device_random(B * T * nh * hs, rng, &hq), *k = device_random(B * T * nh * hs, rng, &hk);
    float *v = device_random(B * T * nh * hs, rng, &hv), *dout = device_random(B * T * nh * hs, rng, &hdo);
    float *att, *scratch, *out, *dq, *dk, *dv;
    CK(cudaMalloc(&att, B * nh * T * T * 4));
    CK(cudaMalloc(&scratch, B * nh * T * T * 4));
    CK(cudaMalloc(&out, B * T * nh * hs * 4));
    CK(cudaMalloc(&dq, B * T * nh * hs * 4));
    CK(cudaMalloc(&dk, B * T * nh * hs * 4));
    CK(cudaMalloc(&dv, B * T * nh * hs * 4));
    const double att_flops = 2.0 * 2.0 * B * nh * (T * (T + 1) / 2.0) * hs;  // QK^T and PV over the causal half
    float fwd = time_ms([&] { QK(qft_cuda_attention_forward(0, addr(q), addr(k), addr(v), B, T, nh, nh, hs, addr(att), addr(out))); }, 5);
    float bwd = time_ms(
        [&] {
            QK(qft_cuda_attention_backward(0, addr(dout), addr(q), addr(k), addr(v), addr(att), B, T, nh, nh, hs, addr(scratch), addr(dq),
                                           addr(dk), addr(dv)));
        },
        5);
    printf("%-28s %-22s %9.3f %8.2f %6.1f%%\n", "attention 32x128, causal", "forward", fwd, att_flops / (fwd * 1e-3) / 1e12,
           100 * att_flops / (fwd * 1e-3) / 1e12 / kPeakTflops);
    printf("%-28s %-22s %9.3f %8.2f %6.1f%%\n", "attention 32x128, causal", "backward (2x fwd FLOPs)", bwd,
           2 * att_flops / (bwd * 1e-3) / 1e12, 100 * 2 * att_flops / (bwd * 1e-3) / 1e12 / kPeakTflops);
    for (float* p : {q, k, v, dout, att, scratch, out, dq, dk, dv}) CK(cudaFree(p));
    return 0;
}
