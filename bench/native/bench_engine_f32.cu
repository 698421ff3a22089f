// The LLaMA engine's fp32 CUDA ops at LLaMA-7B layer shapes (issues 6 and 10): the fp32 linear-layer products in
// their three forms, in both maths (QFT_MATH_FP32: the SIMT SGEMM; QFT_MATH_TF32: the mma.sync tensor-core GEMM),
// and causal attention forward + backward. Build: part of the CMake CUDA build
// (target/native-bench/bin/bench_engine_f32). Run on the GPU host:
//   bench_engine_f32 [tokens]      (default 2048 tokens = one sequence of 2048)
// Each product and the attention forward and backward are first spot-checked against double-precision sums
// on the host (sampled outputs; for TF32, sums of the TF32-rounded operands), then timed;
// printed: ms, TFLOPS, % of the H100 SXM peak of the math (fp32 SIMT 67 TFLOPS, dense TF32 tensor cores
// 494.7 TFLOPS), and, when built with cuBLASLt, cuBLASLt's GEMM at each form's (M, N, K) in the same math
// (CUBLAS_COMPUTE_32F / CUBLAS_COMPUTE_32F_FAST_TF32) timed in the same run and our speed relative to it
// (>1 = faster).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../../native/common/tf32.h"
#include "bench_util.cuh"

#include "cublaslt_gemm.cuh"

extern "C" int qft_cuda_matmul_f32_nt(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int32_t);
extern "C" int qft_cuda_matmul_f32_nn(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int32_t);
extern "C" int qft_cuda_matmul_f32_tn(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int32_t);
extern "C" int qft_cuda_attention_forward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                          int64_t, int64_t, int32_t);
extern "C" int qft_cuda_attention_backward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                           int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t);

constexpr double kPeakTflops = 67.0;       // H100 SXM fp32 without tensor cores
constexpr double kPeakTf32Tflops = 494.7;  // H100 SXM dense TF32 tensor cores

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

static std::vector<float> to_host(const float* d, size_t n) {
    std::vector<float> h(n);
    CK(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost));
    return h;
}

// |got - ref| must stay within 1e-4 of mag, the sum of the absolute terms that made ref (fp32 against
// double over up to ~11K terms is ~1e-6 of mag; an indexing mistake is of the order of mag).
static void expect_close(const char* what, long i, long j, double got, double ref, double mag) {
    if (std::fabs(got - ref) > 1e-4 * mag + 1e-6) {
        fprintf(stderr, "%s[%ld, %ld] = %.8g, expected %.8g (sum of |terms| %.4g)\n", what, i, j, got, ref, mag);
        exit(1);
    }
}

struct Linear {
    const char* name;
    long out, in;
};

int main(int argc, char** argv) {
    const long T = argc > 1 ? atol(argv[1]) : 2048;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs); peaks used for %%: %.0f fp32 SIMT / %.1f TF32 tensor-core TFLOPS (H100 SXM); tokens %ld\n",
           prop.name, prop.major, prop.minor, prop.multiProcessorCount, kPeakTflops, kPeakTf32Tflops, T);
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
        for (int32_t math : {QFT_MATH_FP32, QFT_MATH_TF32}) {
            const bool tf = math == QFT_MATH_TF32;
            auto op = [tf](float v) { return tf ? qft::tf32_round(v) : v; };  // an operand as the product sees it
            // One run of each form, then 16 sampled outputs of each against double sums.
            QK(qft_cuda_matmul_f32_nt(0, addr(x), addr(w), T, l.out, l.in, addr(y), 0, math));
            QK(qft_cuda_matmul_f32_nn(0, addr(dy), addr(w), T, l.out, l.in, addr(dx), 0, math));
            QK(qft_cuda_matmul_f32_tn(0, addr(dy), addr(x), T, l.out, l.in, addr(dw), 0, math));
            const std::vector<float> hy = to_host(y, T * l.out), hdx = to_host(dx, T * l.in), hdw = to_host(dw, l.out * l.in);
            for (int s = 0; s < 16; ++s) {
                const long t = rng() % T, o = rng() % l.out, c = rng() % l.in;
                double ref = 0, mag = 0;
                for (long j = 0; j < l.in; ++j) {
                    const double term = (double)op(hx[t * l.in + j]) * op(hw[o * l.in + j]);
                    ref += term, mag += std::fabs(term);
                }
                expect_close("y = x wT", t, o, hy[t * l.out + o], ref, mag);
                ref = mag = 0;
                for (long j = 0; j < l.out; ++j) {
                    const double term = (double)op(hdy[t * l.out + j]) * op(hw[j * l.in + c]);
                    ref += term, mag += std::fabs(term);
                }
                expect_close("dx = dy w", t, c, hdx[t * l.in + c], ref, mag);
                ref = mag = 0;
                for (long j = 0; j < T; ++j) {
                    const double term = (double)op(hdy[j * l.out + o]) * op(hx[j * l.in + c]);
                    ref += term, mag += std::fabs(term);
                }
                expect_close("dw = dyT x", o, c, hdw[o * l.in + c], ref, mag);
            }
            const double flops = 2.0 * T * l.out * l.in, peak = tf ? kPeakTf32Tflops : kPeakTflops;
            struct Form {
                const char* name;
                int which;
                long M, N, K;  // the product's shape: C (M, N) = A (M, K) B (K, N)
            } forms[] = {{"y = x wT (nt)", 0, T, l.out, l.in}, {"dx = dy w (nn)", 1, T, l.in, l.out}, {"dw += dyT x (tn)", 2, l.out, l.in, T}};
            for (const Form& f : forms) {
                float peer_ms = 0;
#ifdef QFT4J_HAVE_CUBLASLT
                {  // cuBLASLt at this form's (M, N, K) in the same math, in its "TN" layout over buffers of the same sizes
                    const float *pa = f.which == 0 ? x : dy, *pb = f.which == 2 ? x : w;
                    float* pc = f.which == 0 ? y : f.which == 1 ? dx : dw;
                    LtGemm lt(f.M, f.N, f.K, CUDA_R_32F, CUDA_R_32F, tf ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F);
                    if (lt.found) peer_ms = time_ms([&] { lt.run(pa, pb, pc); }, 10);
                }
#endif
                float ms = time_ms(
                    [&] {
                        if (f.which == 0) QK(qft_cuda_matmul_f32_nt(0, addr(x), addr(w), T, l.out, l.in, addr(y), 0, math));
                        if (f.which == 1) QK(qft_cuda_matmul_f32_nn(0, addr(dy), addr(w), T, l.out, l.in, addr(dx), 0, math));
                        if (f.which == 2) QK(qft_cuda_matmul_f32_tn(0, addr(dy), addr(x), T, l.out, l.in, addr(dw), 1, math));
                    },
                    10);
                char form[48];
                snprintf(form, sizeof form, "%s %s", f.name, tf ? "tf32" : "fp32");
                double tflops = flops / (ms * 1e-3) / 1e12;
                if (peer_ms > 0)
                    printf("%-28s %-22s %9.3f %8.2f %6.1f%% | %9.3f %8.2f | %6.2f\n", l.name, form, ms, tflops, 100 * tflops / peak, peer_ms,
                           flops / (peer_ms * 1e-3) / 1e12, peer_ms / ms);
                else
                    printf("%-28s %-22s %9.3f %8.2f %6.1f%% | %9s %8s | %6s\n", l.name, form, ms, tflops, 100 * tflops / peak, "-", "-", "-");
            }
        }
        CK(cudaFree(x));
        CK(cudaFree(w));
        CK(cudaFree(dy));
        CK(cudaFree(y));
        CK(cudaFree(dx));
        CK(cudaFree(dw));
    }

    // Causal attention, LLaMA-7B heads: 32 heads of 128, one sequence of T. Forward keeps out and the
    // per-row log-sum-exp for backward, as in training.
    const long nh = 32, hs = 128, B = 1, n = B * T;
    std::vector<float> hq, hk, hv, hdo;
    float *q = device_random(n * nh * hs, rng, &hq), *k = device_random(n * nh * hs, rng, &hk);
    float *v = device_random(n * nh * hs, rng, &hv), *dout = device_random(n * nh * hs, rng, &hdo);
    float *lse, *delta, *out, *dq, *dk, *dv;
    CK(cudaMalloc(&lse, n * nh * 4));
    CK(cudaMalloc(&delta, n * nh * 4));
    CK(cudaMalloc(&out, n * nh * hs * 4));
    CK(cudaMalloc(&dq, n * nh * hs * 4));
    CK(cudaMalloc(&dk, n * nh * hs * 4));
    CK(cudaMalloc(&dv, n * nh * hs * 4));
    auto forward = [&] { QK(qft_cuda_attention_forward(0, addr(q), addr(k), addr(v), B, T, nh, nh, hs, addr(lse), addr(out), QFT_MATH_FP32)); };
    auto backward = [&] {
        QK(qft_cuda_attention_backward(0, addr(dout), addr(q), addr(k), addr(v), addr(out), addr(lse), B, T, nh, nh, hs, addr(delta),
                                       addr(dq), addr(dk), addr(dv), QFT_MATH_FP32));
    };
    forward();
    backward();
    {  // Sampled query rows (lse, out, delta, dq) and key rows (dk, dv) against double sums; rows 0 and T-1 always.
        const std::vector<float> glse = to_host(lse, n * nh), gdelta = to_host(delta, n * nh), gout = to_host(out, n * nh * hs);
        const std::vector<float> gdq = to_host(dq, n * nh * hs), gdk = to_host(dk, n * nh * hs), gdv = to_host(dv, n * nh * hs);
        const double scale = 1.0 / std::sqrt((double)hs);
        auto row = [&](long t, long h) { return (t * nh + h) * hs; };
        auto dot = [&](const std::vector<float>& a, long ia, const std::vector<float>& b, long ib) {
            double acc = 0;
            for (long j = 0; j < hs; ++j) acc += (double)a[ia + j] * b[ib + j];
            return acc;
        };
        std::vector<double> p(T), g(T);
        for (int sample = 0; sample < 6; ++sample) {
            const long t = sample == 0 ? 0 : sample == 1 ? T - 1 : rng() % T, h = rng() % nh;
            double mx = -INFINITY, sum = 0, delta_ref = 0, delta_mag = 0;
            for (long s = 0; s <= t; ++s) mx = std::fmax(mx, p[s] = dot(hq, row(t, h), hk, row(s, h)) * scale);
            for (long s = 0; s <= t; ++s) sum += std::exp(p[s] - mx);
            const double lse_ref = mx + std::log(sum);
            expect_close("lse", h, t, glse[h * T + t], lse_ref, 1 + std::fabs(lse_ref));
            for (long s = 0; s <= t; ++s) p[s] = std::exp(p[s] - lse_ref), g[s] = dot(hdo, row(t, h), hv, row(s, h));
            for (long j = 0; j < hs; ++j) {
                double ref = 0, mag = 0;
                for (long s = 0; s <= t; ++s) ref += p[s] * hv[row(s, h) + j], mag += std::fabs(p[s] * hv[row(s, h) + j]);
                expect_close("out", t, h * hs + j, gout[row(t, h) + j], ref, mag);
                delta_ref += hdo[row(t, h) + j] * ref, delta_mag += std::fabs(hdo[row(t, h) + j] * ref);
            }
            expect_close("delta", h, t, gdelta[h * T + t], delta_ref, delta_mag);
            for (long j = 0; j < hs; ++j) {
                double ref = 0, mag = 0;
                for (long s = 0; s <= t; ++s) {
                    const double term = p[s] * (g[s] - delta_ref) * scale * hk[row(s, h) + j];
                    ref += term, mag += std::fabs(term);
                }
                expect_close("dq", t, h * hs + j, gdq[row(t, h) + j], ref, mag);
            }
            // Key row s of head h: sums over queries t >= s, with the kernels' lse and delta (checked above on samples).
            const long s = sample == 0 ? 0 : sample == 1 ? T - 1 : rng() % T;
            std::vector<double> rk(hs), mk(hs), rv(hs), mv(hs);
            for (long u = s; u < T; ++u) {
                const double pu = std::exp(dot(hq, row(u, h), hk, row(s, h)) * scale - glse[h * T + u]);
                const double dsu = pu * (dot(hdo, row(u, h), hv, row(s, h)) - gdelta[h * T + u]) * scale;
                for (long j = 0; j < hs; ++j) {
                    rk[j] += dsu * hq[row(u, h) + j], mk[j] += std::fabs(dsu * hq[row(u, h) + j]);
                    rv[j] += pu * hdo[row(u, h) + j], mv[j] += std::fabs(pu * hdo[row(u, h) + j]);
                }
            }
            for (long j = 0; j < hs; ++j) {
                expect_close("dk", s, h * hs + j, gdk[row(s, h) + j], rk[j], mk[j]);
                expect_close("dv", s, h * hs + j, gdv[row(s, h) + j], rv[j], mv[j]);
            }
        }
    }
    const double att_flops = 2.0 * 2.0 * B * nh * (T * (T + 1) / 2.0) * hs;  // QK^T and PV over the causal half
    float fwd = time_ms(forward, 5);
    float bwd = time_ms(backward, 5);
    printf("%-28s %-22s %9.3f %8.2f %6.1f%%\n", "attention 32x128, causal", "forward", fwd, att_flops / (fwd * 1e-3) / 1e12,
           100 * att_flops / (fwd * 1e-3) / 1e12 / kPeakTflops);
    printf("%-28s %-22s %9.3f %8.2f %6.1f%%\n", "attention 32x128, causal", "backward (2x fwd FLOPs)", bwd,
           2 * att_flops / (bwd * 1e-3) / 1e12, 100 * 2 * att_flops / (bwd * 1e-3) / 1e12 / kPeakTflops);
    for (float* p : {q, k, v, dout, lse, delta, out, dq, dk, dv}) CK(cudaFree(p));
    return 0;
}
