// fp32 linear-layer products y = x wᵀ, dx = dy w, dw = dyᵀ x: plain references and the device dispatch.
// Reference: llm.c `matmul_forward_cpu` / `matmul_backward_cpu`. CUDA twin: native/cuda/matmul_f32.cu.
// Each output is summed over the reduced index in increasing order into a fresh accumulator and then
// stored or added, like the CUDA kernels: in QFT_MATH_FP32 the two backends differ only by fused
// multiply-adds; in QFT_MATH_TF32 every operand is first rounded with the CUDA kernel's qft::tf32_round, so
// they differ only in the order of the fp32 sums.
#include <algorithm>
#include <type_traits>

#include "../common/internal.h"
#include "../common/tf32.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/matmul_f32.h"

namespace {

constexpr int64_t kCols = 256;  // output columns per task of the nn and tn forms (a stack accumulator)

inline void store(float* dst, float v, int32_t accumulate) { *dst = accumulate ? *dst + v : v; }

// An operand as the product sees it: itself (FP32) or rounded to TF32.
template <bool TF32>
inline float op(float v) { return TF32 ? qft::tf32_round(v) : v; }

}  // namespace

namespace qft {

// y[i, j] (+)= sum_p x[i, p] w[j, p] for the outputs [o0, o1) of the flattened (n, out) result.
template <bool TF32>
void matmul_f32_nt_ref(const float* x, const float* w, int64_t out, int64_t in, int64_t o0, int64_t o1, float* y,
                       int32_t accumulate) {
    for (int64_t o = o0; o < o1; ++o) {
        const float *xi = x + (o / out) * in, *wj = w + (o % out) * in;
        float s = 0.0f;
        for (int64_t p = 0; p < in; ++p) s += op<TF32>(xi[p]) * op<TF32>(wj[p]);
        store(y + o, s, accumulate);
    }
}

// dx[i, c0..c1) (+)= sum_r dy[i, r] w[r, c0..c1).
template <bool TF32>
void matmul_f32_nn_ref(const float* dy, const float* w, int64_t out, int64_t in, int64_t i, int64_t c0, int64_t c1, float* dx,
                       int32_t accumulate) {
    float acc[kCols] = {};
    for (int64_t r = 0; r < out; ++r) {
        const float a = op<TF32>(dy[i * out + r]), *wr = w + r * in;
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += a * op<TF32>(wr[c]);
    }
    for (int64_t c = c0; c < c1; ++c) store(dx + i * in + c, acc[c - c0], accumulate);
}

// dw[r, c0..c1) (+)= sum_t dy[t, r] x[t, c0..c1).
template <bool TF32>
void matmul_f32_tn_ref(const float* dy, const float* x, int64_t n, int64_t out, int64_t in, int64_t r, int64_t c0, int64_t c1,
                       float* dw, int32_t accumulate) {
    float acc[kCols] = {};
    for (int64_t t = 0; t < n; ++t) {
        const float a = op<TF32>(dy[t * out + r]), *xt = x + t * in;
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += a * op<TF32>(xt[c]);
    }
    for (int64_t c = c0; c < c1; ++c) store(dw + r * in + c, acc[c - c0], accumulate);
}

}  // namespace qft

static int bad_args(const char* fn, int64_t n, int64_t out, int64_t in, int32_t math) {
    return qft_set_error(QFT_EINVAL,
                         "%s: bad arguments (n %lld, out %lld, in %lld, math %d: sizes must be >= 0, pointers non-null, math "
                         "QFT_MATH_FP32 (0) or QFT_MATH_TF32 (1))",
                         fn, (long long)n, (long long)out, (long long)in, math);
}

static bool bad_math(int32_t math) { return math != QFT_MATH_FP32 && math != QFT_MATH_TF32; }

// Runs body<TF32>() with TF32 = (math == QFT_MATH_TF32).
template <class F>
static void with_math(int32_t math, F&& body) {
    if (math == QFT_MATH_TF32) body(std::true_type{});
    else body(std::false_type{});
}

extern "C" int qft_matmul_f32_nt(int32_t device, int64_t x, int64_t w, int64_t n, int64_t out, int64_t in, int64_t y,
                                 int32_t accumulate, int32_t math) {
    if (x == 0 || w == 0 || y == 0 || n < 0 || out < 0 || in < 0 || bad_math(math))
        return bad_args("qft_matmul_f32_nt", n, out, in, math);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_matmul_f32_nt", device, x, w, n, out, in, y, accumulate, math);
    return qft::guarded("qft_matmul_f32_nt", [&] {
        with_math(math, [&](auto tf) {
            constexpr bool tf32 = decltype(tf)::value;
            qft::parallel_for(n * out, qft::grain_for(in), [&](int64_t o0, int64_t o1) {
                qft::matmul_f32_nt_ref<tf32>(qft::ptr<float>(x), qft::ptr<float>(w), out, in, o0, o1, qft::ptr<float>(y), accumulate);
            });
        });
        return QFT_OK;
    });
}

extern "C" int qft_matmul_f32_nn(int32_t device, int64_t dy, int64_t w, int64_t n, int64_t out, int64_t in, int64_t dx,
                                 int32_t accumulate, int32_t math) {
    if (dy == 0 || w == 0 || dx == 0 || n < 0 || out < 0 || in < 0 || bad_math(math))
        return bad_args("qft_matmul_f32_nn", n, out, in, math);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_matmul_f32_nn", device, dy, w, n, out, in, dx, accumulate, math);
    return qft::guarded("qft_matmul_f32_nn", [&] {
        const int64_t blocks = qft::ceil_div(in, kCols);
        with_math(math, [&](auto tf) {
            constexpr bool tf32 = decltype(tf)::value;
            qft::parallel_for(n * blocks, qft::grain_for(out * kCols), [&](int64_t b0, int64_t b1) {
                for (int64_t b = b0; b < b1; ++b) {
                    int64_t c0 = (b % blocks) * kCols;
                    qft::matmul_f32_nn_ref<tf32>(qft::ptr<float>(dy), qft::ptr<float>(w), out, in, b / blocks, c0, std::min(in, c0 + kCols),
                                           qft::ptr<float>(dx), accumulate);
                }
            });
        });
        return QFT_OK;
    });
}

extern "C" int qft_matmul_f32_tn(int32_t device, int64_t dy, int64_t x, int64_t n, int64_t out, int64_t in, int64_t dw,
                                 int32_t accumulate, int32_t math) {
    if (dy == 0 || x == 0 || dw == 0 || n < 0 || out < 0 || in < 0 || bad_math(math))
        return bad_args("qft_matmul_f32_tn", n, out, in, math);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_matmul_f32_tn", device, dy, x, n, out, in, dw, accumulate, math);
    return qft::guarded("qft_matmul_f32_tn", [&] {
        const int64_t blocks = qft::ceil_div(in, kCols);
        with_math(math, [&](auto tf) {
            constexpr bool tf32 = decltype(tf)::value;
            qft::parallel_for(out * blocks, qft::grain_for(n * kCols), [&](int64_t b0, int64_t b1) {
                for (int64_t b = b0; b < b1; ++b) {
                    int64_t c0 = (b % blocks) * kCols;
                    qft::matmul_f32_tn_ref<tf32>(qft::ptr<float>(dy), qft::ptr<float>(x), n, out, in, b / blocks, c0, std::min(in, c0 + kCols),
                                           qft::ptr<float>(dw), accumulate);
                }
            });
        });
        return QFT_OK;
    });
}
