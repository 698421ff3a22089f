// Causal attention forward and backward in both math modes (core.h) at LLaMA training shapes: the fp32 SIMT
// kernels (QFT_MATH_FP32, attention.cu) and the TF32 tensor-core kernels (QFT_MATH_TF32, attention_tf32.cu).
// Build: part of the CMake CUDA build (target/native-bench/bin/bench_attention). Run on the GPU host:
//   bench_attention [T]      (default 2048: one sequence of T tokens)
// Shapes: LLaMA-1B (32 heads, 4 kv heads, head size 64) and LLaMA-7B (32 heads, 32 kv heads, head size 128).
// Each mode runs once and TF32's lse, out, dq, dk, dv are checked against FP32's (max |diff| over max |fp32| under
// 1e-2: TF32 rounding moves them ~1e-3 at most, a fragment-layout mistake moves them by O(1)); then each pass is
// timed. Printed: ms, TFLOPS over the causal FLOPs (forward 2 * 2 * B * nh * T^2 * hs / 2, backward 2.5x that) and
// % of the H100 SXM dense TF32 tensor-core peak (494.7 TFLOPS); the ratio is FP32 ms / TF32 ms (>1: TF32 faster).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench_util.cuh"

extern "C" int qft_cuda_attention_forward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                          int64_t, int64_t, int32_t);
extern "C" int qft_cuda_attention_backward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                           int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t);

constexpr double kPeakTflops = 494.7;  // H100 SXM dense TF32 tensor cores

static int64_t addr(const void* p) { return (int64_t)(uintptr_t)p; }

static float* device_buffer(size_t n, std::mt19937* rng) {  // normal(0, 1) values, or zeros without rng
    std::vector<float> h(n, 0.0f);
    std::normal_distribution<float> g(0.0f, 1.0f);
    if (rng)
        for (auto& v : h) v = g(*rng);
    float* d = nullptr;
    CK(cudaMalloc(&d, n * 4));
    CK(cudaMemcpy(d, h.data(), n * 4, cudaMemcpyHostToDevice));
    return d;
}

static std::vector<float> to_host(const float* d, size_t n) {
    std::vector<float> h(n);
    CK(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost));
    return h;
}

static double relative_diff(const std::vector<float>& ref, const std::vector<float>& got) {
    double scale = 0, err = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        scale = std::fmax(scale, std::fabs(ref[i]));
        err = std::fmax(err, std::fabs((double)got[i] - ref[i]));
    }
    return err / scale;
}

struct Shape {
    const char* name;
    long nh, nkv, hs;
};

int main(int argc, char** argv) {
    const long T = argc > 1 ? atol(argv[1]) : 2048, B = 1;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs); peak used for %%: %.1f TFLOPS (H100 SXM dense TF32); B %ld, T %ld\n", prop.name,
           prop.major, prop.minor, prop.multiProcessorCount, kPeakTflops, B, T);
    printf("%-34s %-9s %-5s %9s %8s %7s | %s\n", "shape", "pass", "math", "ms", "TFLOPS", "%peak", "FP32 ms / TF32 ms");
    std::mt19937 rng(7);
    const Shape shapes[] = {{"LLaMA-1B nh 32 nkv 4 hs 64", 32, 4, 64}, {"LLaMA-7B nh 32 nkv 32 hs 128", 32, 32, 128}};
    for (const Shape& s : shapes) {
        const long n = B * T, qn = n * s.nh * s.hs, kvn = n * s.nkv * s.hs;
        float *q = device_buffer(qn, &rng), *k = device_buffer(kvn, &rng), *v = device_buffer(kvn, &rng), *dout = device_buffer(qn, &rng);
        float *lse = device_buffer(n * s.nh, nullptr), *delta = device_buffer(n * s.nh, nullptr), *out = device_buffer(qn, nullptr);
        float *dq = device_buffer(qn, nullptr), *dk = device_buffer(kvn, nullptr), *dv = device_buffer(kvn, nullptr);
        auto forward = [&](int math) {
            QK(qft_cuda_attention_forward(0, addr(q), addr(k), addr(v), B, T, s.nh, s.nkv, s.hs, addr(lse), addr(out), math));
        };
        auto backward = [&](int math) {
            QK(qft_cuda_attention_backward(0, addr(dout), addr(q), addr(k), addr(v), addr(out), addr(lse), B, T, s.nh, s.nkv, s.hs,
                                           addr(delta), addr(dq), addr(dk), addr(dv), math));
        };
        std::vector<float> results[2][5];  // per math: lse, out, dq, dk, dv
        for (int math : {QFT_MATH_FP32, QFT_MATH_TF32}) {
            forward(math);
            backward(math);
            const float* bufs[5] = {lse, out, dq, dk, dv};
            const long sizes[5] = {n * s.nh, qn, qn, kvn, kvn};
            for (int i = 0; i < 5; ++i) results[math][i] = to_host(bufs[i], sizes[i]);
        }
        const char* names[5] = {"lse", "out", "dq", "dk", "dv"};
        for (int i = 0; i < 5; ++i) {
            const double rel = relative_diff(results[QFT_MATH_FP32][i], results[QFT_MATH_TF32][i]);
            printf("  check %s: TF32 vs FP32 max |diff| / max |FP32| = %.3g\n", names[i], rel);
            if (!(rel < 1e-2)) {
                fprintf(stderr, "%s: TF32 %s differs from FP32 by %.3g of its scale\n", s.name, names[i], rel);
                return 1;
            }
        }
        const double fwd_flops = 2.0 * 2.0 * B * s.nh * (double)T * T * s.hs / 2, flops[2] = {fwd_flops, 2.5 * fwd_flops};
        for (int pass = 0; pass < 2; ++pass) {
            float ms[2];
            for (int math : {QFT_MATH_FP32, QFT_MATH_TF32}) {
                forward(math);  // backward reads this mode's out and lse
                ms[math] = pass == 0 ? time_ms([&] { forward(math); }, 10) : time_ms([&] { backward(math); }, 10);
                const double tf = flops[pass] / (ms[math] * 1e-3) / 1e12;
                printf("%-34s %-9s %-5s %9.3f %8.2f %6.1f%% |", s.name, pass == 0 ? "forward" : "backward",
                       math == QFT_MATH_FP32 ? "FP32" : "TF32", ms[math], tf, 100 * tf / kPeakTflops);
                if (math == QFT_MATH_TF32) printf(" %.2f", ms[QFT_MATH_FP32] / ms[QFT_MATH_TF32]);
                printf("\n");
            }
        }
        for (float* p : {q, k, v, dout, lse, delta, out, dq, dk, dv}) CK(cudaFree(p));
    }
    return 0;
}
