// Runs native/cuda's kernels in the emulator (cuda_emu.h) against the CPU backend (libqft4j.so) on the same inputs,
// with the budgets of the Java GPU tests: the TF32 matmuls within 3e-5 of max |expected| (DeviceOpsCudaTest), the
// others bit for bit (QuantLionTest, Int8BackwardTest, TrainStepOpsTest). Prints one line per case; exits 1 on
// any mismatch. Device memory is host memory here, so both backends read the same arrays.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qft4j/attention.h"
#include "qft4j/cross_entropy.h"
#include "qft4j/hybrid_weight.h"
#include "qft4j/int8_blocks.h"
#include "qft4j/lion_step.h"
#include "qft4j/matmul_f32.h"
#include "qft4j/quantize_operands.h"
#include "qft4j/train_step.h"

extern "C" {
int qft_cuda_attention_forward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t);
int qft_cuda_attention_backward(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                int64_t, int64_t, int64_t, int64_t, int32_t);
int qft_cuda_quantize_rows_absmax_ex(int32_t, int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_quantize_cols_absmax(int32_t, int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_transpose_i8(int32_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_int8_blocks_quantize(int32_t, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, int64_t);
int qft_cuda_int8_blocks_dequantize(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_int8_blocks_row_sumsq(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_f32_row_sumsq(int32_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_int8_blocks_quantize_stochastic(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_cross_entropy_chunk_begin(int32_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_cross_entropy_chunk_stats(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_cross_entropy_chunk_finish(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
int qft_cuda_cross_entropy_chunk_grad(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float);
int qft_cuda_matmul_f32_nt(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int32_t);
int qft_cuda_matmul_f32_nn(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int32_t);
int qft_cuda_matmul_f32_tn(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int32_t);
int qft_cuda_quant_lion_step(int32_t, const int64_t*, int64_t, float, float, float, float, int64_t, int64_t, int32_t, int64_t);
int qft_cuda_hybrid_outlier_codes(int32_t, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, int64_t);
int qft_cuda_clip_factors(int32_t, int64_t, const int64_t*, int64_t, double, int32_t, int64_t, int64_t);
int qft_cuda_f32_scale(int32_t, int64_t, int64_t, int64_t);
int qft_cuda_lion_fp32_scaled_step(int32_t, int64_t, int64_t, int64_t, int64_t, float, float, float, float, int64_t);
}

namespace {

int failures = 0;

template <typename T>
int64_t addr(T* p) { return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p)); }
template <typename T>
int64_t addr(std::vector<T>& v) { return addr(v.data()); }

void check_status(int st, const char* what) {
    if (st != 0) {
        std::printf("FAIL %s: status %d: %s\n", what, st, qft_last_error());
        ++failures;
    }
}

void report(bool ok, const std::string& what, const std::string& detail) {
    std::printf("%s %s: %s\n", ok ? "ok  " : "FAIL", what.c_str(), detail.c_str());
    if (!ok) ++failures;
}

// max |got - want| <= rel * max |want|, got finite (Close.assertClose).
void close(const std::vector<float>& want, const std::vector<float>& got, double rel, const std::string& what) {
    double scale = 0, err = 0;
    bool finite = true;
    for (size_t i = 0; i < want.size(); ++i) {
        finite = finite && std::isfinite(got[i]);
        scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
        err = std::max(err, std::fabs(static_cast<double>(got[i]) - want[i]));
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "relative error %.3g (budget %.0e)", scale > 0 ? err / scale : err, rel);
    report(finite && scale > 0 && err <= rel * scale, what, buf);
}

// Each |got - want| <= rel * |want|, NaN where want is NaN (TrainStepOpsTest's row sums of squares: fp64 in another order).
void close_each(const std::vector<double>& want, const std::vector<double>& got, double rel, const std::string& what) {
    double worst = 0;
    bool ok = true;
    for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(want[i]) || std::isnan(got[i])) {
            ok = ok && std::isnan(want[i]) && std::isnan(got[i]);
            continue;
        }
        const double d = std::fabs(got[i] - want[i]);
        ok = ok && d <= rel * std::fabs(want[i]);
        if (want[i] != 0) worst = std::max(worst, d / std::fabs(want[i]));
    }
    char buf[120];
    std::snprintf(buf, sizeof buf, "largest relative difference %.3g (budget %.0e per value)", worst, rel);
    report(ok, what, buf);
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b, size_t* at) {
    for (size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return *at = i, false;
    return true;
}

template <typename T>
void bits(const std::vector<T>& want, const std::vector<T>& got, const std::string& what) {
    size_t at = 0;
    const bool ok = same_bits(want, got, &at);
    report(ok, what, ok ? "bit for bit (" + std::to_string(want.size()) + " values)" : "first difference at " + std::to_string(at));
}

std::vector<float> randn(size_t n, std::mt19937_64& rng, float std = 1.0f) {
    std::normal_distribution<float> d(0.0f, std);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// ---- the fp32 linear-layer products (matmul_f32.cu, matmul_f32_tf32.cu) ----
void matmuls() {
    std::mt19937_64 rng(7);
    // (n, out, in): odd edges, a K tail, unaligned rows (in % 4 != 0: no 16-byte path), whole interior tiles with the
    // fast fetch, and tiles mixing interior and edge blocks.
    const int shapes[][3] = {{1, 7, 5}, {130, 67, 129}, {257, 300, 190}, {64, 64, 64}, {128, 128, 100}, {256, 384, 512}, {300, 260, 272}};
    for (const auto& s : shapes) {
        const int64_t n = s[0], out = s[1], in = s[2];
        auto x = randn(n * in, rng), w = randn(out * in, rng), dy = randn(n * out, rng);
        for (int math : {QFT_MATH_FP32, QFT_MATH_TF32})
            for (int acc = 0; acc < 2; ++acc) {
                auto y0 = randn(n * out, rng), dx0 = randn(n * in, rng), dw0 = randn(out * in, rng);
                std::vector<float> y[2] = {y0, y0}, dx[2] = {dx0, dx0}, dw[2] = {dw0, dw0};
                check_status(qft_matmul_f32_nt(QFT_DEVICE_CPU, addr(x), addr(w), n, out, in, addr(y[0]), acc, math), "cpu nt");
                check_status(qft_matmul_f32_nn(QFT_DEVICE_CPU, addr(dy), addr(w), n, out, in, addr(dx[0]), acc, math), "cpu nn");
                check_status(qft_matmul_f32_tn(QFT_DEVICE_CPU, addr(dy), addr(x), n, out, in, addr(dw[0]), acc, math), "cpu tn");
                check_status(qft_cuda_matmul_f32_nt(0, addr(x), addr(w), n, out, in, addr(y[1]), acc, math), "emu nt");
                check_status(qft_cuda_matmul_f32_nn(0, addr(dy), addr(w), n, out, in, addr(dx[1]), acc, math), "emu nn");
                check_status(qft_cuda_matmul_f32_tn(0, addr(dy), addr(x), n, out, in, addr(dw[1]), acc, math), "emu tn");
                const std::string at = std::string(math == QFT_MATH_TF32 ? " tf32 (" : " fp32 (") + std::to_string(n) + ", " +
                                       std::to_string(out) + ", " + std::to_string(in) + ")" + (acc ? " accumulate" : "");
                const double rel = math == QFT_MATH_TF32 ? 3e-5 : 1e-5;  // DeviceOpsCudaTest's budgets
                close(y[0], y[1], rel, "matmul nt" + at);
                close(dx[0], dx[1], rel, "matmul nn" + at);
                close(dw[0], dw[1], rel, "matmul tn" + at);
            }
    }
}

// ---- causal grouped-query attention, forward and backward (attention.cu: SIMT; attention_tf32.cu: tensor cores) ----
void attention() {
    std::mt19937_64 rng(11);
    // B, T, heads, kv heads, head size: AttentionTf32CudaTest's shapes (64-row tile edges, grouped kv heads, padded
    // head sizes, 128).
    const int64_t shapes[][5] = {{2, 7, 6, 2, 6}, {2, 200, 8, 2, 64}, {1, 130, 4, 4, 128}, {1, 65, 6, 3, 48}, {1, 300, 4, 1, 16}, {1, 129, 2, 2, 100}};
    const char* names[] = {"lse", "out", "dq", "dk", "dv", "delta"};
    for (const auto& s : shapes) {
        const int64_t B = s[0], T = s[1], nh = s[2], nkv = s[3], hs = s[4], n = B * T;
        auto q = randn(n * nh * hs, rng), k = randn(n * nkv * hs, rng), v = randn(n * nkv * hs, rng), dout = randn(n * nh * hs, rng);
        for (int math : {QFT_MATH_FP32, QFT_MATH_TF32}) {
            std::vector<float> r[2][6];
            for (int b = 0; b < 2; ++b) {
                auto& o = r[b];
                o[0].assign(n * nh, 0), o[1].assign(n * nh * hs, 0), o[2].assign(n * nh * hs, 0), o[3].assign(n * nkv * hs, 0);
                o[4].assign(n * nkv * hs, 0), o[5].assign(n * nh, 0);
                auto fwd = b ? qft_cuda_attention_forward : qft_attention_forward;
                auto bwd = b ? qft_cuda_attention_backward : qft_attention_backward;
                const int dev = b ? 0 : QFT_DEVICE_CPU;
                check_status(fwd(dev, addr(q), addr(k), addr(v), B, T, nh, nkv, hs, addr(o[0]), addr(o[1]), math), "attention forward");
                check_status(bwd(dev, addr(dout), addr(q), addr(k), addr(v), addr(o[1]), addr(o[0]), B, T, nh, nkv, hs, addr(o[5]), addr(o[2]),
                                 addr(o[3]), addr(o[4]), math),
                             "attention backward");
            }
            const double rel = math == QFT_MATH_TF32 ? 1e-3 : 1e-5;  // AttentionTf32CudaTest's and DeviceOpsCudaTest's budgets
            for (int i = 0; i < 6; ++i)
                close(r[0][i], r[1][i], rel,
                      std::string("attention ") + (math == QFT_MATH_TF32 ? "tf32 " : "fp32 ") + names[i] + " (B " + std::to_string(B) + ", T " +
                          std::to_string(T) + ", heads " + std::to_string(nh) + "/" + std::to_string(nkv) + ", hs " + std::to_string(hs) + ")");
        }
    }
}

// ---- INT8 operands of the backward matmuls (quantize_operands.cu) and INT8 gradient blocks (int8_blocks.cu, train_step.cu) ----
std::vector<uint16_t> to_bf16(const std::vector<float>& x) {
    std::vector<uint16_t> b(x.size());
    for (size_t i = 0; i < x.size(); ++i) b[i] = static_cast<uint16_t>(__float_as_uint(x[i]) >> 16);
    return b;
}

void operands() {
    std::mt19937_64 rng(13);
    const int64_t shapes[][2] = {{1, 5}, {33, 70}, {130, 300}, {64, 4096}};
    for (const auto& s : shapes) {
        const int64_t rows = s[0], cols = s[1];
        auto x = randn(rows * cols, rng, 2.0f), mul = randn(cols, rng);
        if (rows > 1) x[cols + 3] = NAN;  // row 1 / column 3 non-finite: NaN scale, zero codes, counted as bad
        const auto xb = to_bf16(x);
        const std::string at = " (" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
        for (int dtype : {QFT_IN_F32, QFT_IN_BF16}) {
            const int64_t xa = dtype == QFT_IN_F32 ? addr(x) : addr(const_cast<uint16_t*>(xb.data()));
            const std::string dt = dtype == QFT_IN_F32 ? " f32" : " bf16";
            for (int with_mul = 0; with_mul < 2; ++with_mul) {
                std::vector<int8_t> q[2] = {std::vector<int8_t>(rows * cols, 9), std::vector<int8_t>(rows * cols, 9)};
                std::vector<float> sc[2] = {std::vector<float>(rows, 9), std::vector<float>(rows, 9)};
                std::vector<int32_t> bad[2] = {{0}, {0}};
                const int64_t m = with_mul ? addr(mul) : 0;
                check_status(qft_quantize_rows_absmax_ex(QFT_DEVICE_CPU, dtype, xa, rows, cols, m, addr(q[0]), addr(sc[0]), addr(bad[0])), "cpu rows");
                check_status(qft_cuda_quantize_rows_absmax_ex(0, dtype, xa, rows, cols, m, addr(q[1]), addr(sc[1]), addr(bad[1])), "emu rows");
                const std::string what = "quantize rows" + dt + (with_mul ? " x col_mul" : "") + at;
                bits(q[0], q[1], what + " codes");
                bits(sc[0], sc[1], what + " scales");
                bits(bad[0], bad[1], what + " bad count");
            }
            std::vector<int8_t> qt[2] = {std::vector<int8_t>(rows * cols, 9), std::vector<int8_t>(rows * cols, 9)};
            std::vector<float> sc[2] = {std::vector<float>(cols, 9), std::vector<float>(cols, 9)};
            std::vector<int32_t> bad[2] = {{0}, {0}};
            check_status(qft_quantize_cols_absmax(QFT_DEVICE_CPU, dtype, xa, rows, cols, addr(qt[0]), addr(sc[0]), addr(bad[0])), "cpu cols");
            check_status(qft_cuda_quantize_cols_absmax(0, dtype, xa, rows, cols, addr(qt[1]), addr(sc[1]), addr(bad[1])), "emu cols");
            bits(qt[0], qt[1], "quantize cols" + dt + at + " codes");
            bits(sc[0], sc[1], "quantize cols" + dt + at + " scales");
            bits(bad[0], bad[1], "quantize cols" + dt + at + " bad count");
        }
        std::vector<int8_t> codes(rows * cols), t[2] = {std::vector<int8_t>(rows * cols), std::vector<int8_t>(rows * cols)};
        for (auto& c : codes) c = static_cast<int8_t>(rng() % 255 - 127);
        check_status(qft_transpose_i8(QFT_DEVICE_CPU, addr(codes), rows, cols, addr(t[0])), "cpu transpose");
        check_status(qft_cuda_transpose_i8(0, addr(codes), rows, cols, addr(t[1])), "emu transpose");
        bits(t[0], t[1], "transpose int8" + at);

        for (int64_t block : {int64_t(16), int64_t(256), cols}) {
            const std::string b = at + " block " + std::to_string(block);
            for (int sign = 0; sign < 2; ++sign) {
                std::vector<int8_t> c[2] = {std::vector<int8_t>(rows * cols, 9), std::vector<int8_t>(rows * cols, 9)};
                const int64_t nb = (cols + block - 1) / block;
                std::vector<float> sc[2] = {std::vector<float>(rows * nb, 9), std::vector<float>(rows * nb, 9)};
                qft_int8_blocks_quantize(QFT_DEVICE_CPU, addr(x), rows, cols, block, sign, addr(c[0]), addr(sc[0]));  // QFT_EINVAL: the NaN
                qft_cuda_int8_blocks_quantize(0, addr(x), rows, cols, block, sign, addr(c[1]), addr(sc[1]));
                bits(c[0], c[1], std::string("int8 blocks") + (sign ? " sign-kept" : "") + b + " codes");
                bits(sc[0], sc[1], std::string("int8 blocks") + (sign ? " sign-kept" : "") + b + " scales");
                std::vector<float> d[2] = {std::vector<float>(rows * cols), std::vector<float>(rows * cols)};
                check_status(qft_int8_blocks_dequantize(QFT_DEVICE_CPU, addr(c[0]), addr(sc[0]), rows, cols, block, addr(d[0])), "cpu deq");
                check_status(qft_cuda_int8_blocks_dequantize(0, addr(c[0]), addr(sc[0]), rows, cols, block, addr(d[1])), "emu deq");
                bits(d[0], d[1], "int8 blocks dequantize" + b);
                std::vector<double> ss[2] = {std::vector<double>(rows), std::vector<double>(rows)};
                check_status(qft_int8_blocks_row_sumsq(QFT_DEVICE_CPU, addr(c[0]), addr(sc[0]), rows, cols, block, addr(ss[0])), "cpu sumsq");
                check_status(qft_cuda_int8_blocks_row_sumsq(0, addr(c[0]), addr(sc[0]), rows, cols, block, addr(ss[1])), "emu sumsq");
                close_each(ss[0], ss[1], 1e-12, "int8 blocks row sums of squares" + b);
            }
            const int64_t nb = (cols + block - 1) / block;
            std::vector<int8_t> c[2] = {std::vector<int8_t>(rows * cols, 9), std::vector<int8_t>(rows * cols, 9)};
            std::vector<float> sc[2] = {std::vector<float>(rows * nb, 9), std::vector<float>(rows * nb, 9)};
            check_status(qft_int8_blocks_quantize_stochastic(QFT_DEVICE_CPU, addr(x), rows, cols, block, 42, 7, 3, 5, addr(c[0]), addr(sc[0])), "cpu sr");
            check_status(qft_cuda_int8_blocks_quantize_stochastic(0, addr(x), rows, cols, block, 42, 7, 3, 5, addr(c[1]), addr(sc[1])), "emu sr");
            bits(c[0], c[1], "int8 blocks stochastic" + b + " codes");
            bits(sc[0], sc[1], "int8 blocks stochastic" + b + " scales");
        }
        std::vector<double> ss[2] = {std::vector<double>(rows), std::vector<double>(rows)};
        check_status(qft_f32_row_sumsq(QFT_DEVICE_CPU, addr(x), rows, cols, addr(ss[0])), "cpu f32 sumsq");
        check_status(qft_cuda_f32_row_sumsq(0, addr(x), rows, cols, addr(ss[1])), "emu f32 sumsq");
        close_each(ss[0], ss[1], 1e-12, "f32 row sums of squares" + at);
    }
}

// ---- chunked softmax cross-entropy (cross_entropy.cu) ----
void cross_entropy() {
    std::mt19937_64 rng(17);
    const int64_t n = 37, vocab = 1000, chunk = 384;  // 3 chunks, the last partial
    auto logits = randn(n * vocab, rng, 3.0f);
    std::vector<int32_t> targets(n);
    for (int64_t i = 0; i < n; ++i) targets[i] = i % 7 == 3 ? -1 : static_cast<int32_t>(rng() % vocab);
    std::vector<float> mx[2], tl[2], lse[2], loss[2], grad[2];
    std::vector<double> sum[2];
    for (int b = 0; b < 2; ++b) {
        const int dev = b ? 0 : QFT_DEVICE_CPU;
        mx[b].assign(n, 0), tl[b].assign(n, 0), lse[b].assign(n, 0), loss[b].assign(n, 0), sum[b].assign(n, 0), grad[b] = logits;
        check_status((b ? qft_cuda_cross_entropy_chunk_begin : qft_cross_entropy_chunk_begin)(dev, n, addr(mx[b]), addr(sum[b]), addr(tl[b])), "ce begin");
        for (int64_t c0 = 0; c0 < vocab; c0 += chunk) {
            const int64_t cols = std::min(chunk, vocab - c0);
            std::vector<float> part(n * cols);
            for (int64_t r = 0; r < n; ++r) std::memcpy(&part[r * cols], &logits[r * vocab + c0], cols * 4);
            check_status((b ? qft_cuda_cross_entropy_chunk_stats : qft_cross_entropy_chunk_stats)(dev, addr(part), n, cols, c0, addr(targets),
                                                                                                  addr(mx[b]), addr(sum[b]), addr(tl[b])),
                         "ce stats");
        }
        check_status((b ? qft_cuda_cross_entropy_chunk_finish : qft_cross_entropy_chunk_finish)(dev, n, vocab, addr(targets), addr(mx[b]), addr(sum[b]),
                                                                                                addr(tl[b]), addr(lse[b]), addr(loss[b])),
                     "ce finish");
        for (int64_t c0 = 0; c0 < vocab; c0 += chunk) {
            const int64_t cols = std::min(chunk, vocab - c0);
            std::vector<float> part(n * cols);
            for (int64_t r = 0; r < n; ++r) std::memcpy(&part[r * cols], &logits[r * vocab + c0], cols * 4);
            check_status((b ? qft_cuda_cross_entropy_chunk_grad : qft_cross_entropy_chunk_grad)(dev, addr(part), n, cols, c0, addr(targets), addr(lse[b]),
                                                                                                0.5f),
                         "ce grad");
            for (int64_t r = 0; r < n; ++r) std::memcpy(&grad[b][r * vocab + c0], &part[r * cols], cols * 4);
        }
    }
    close(lse[0], lse[1], 1e-5, "cross-entropy lse (37 rows, 3 chunks of a 1000 vocabulary)");
    close(loss[0], loss[1], 1e-5, "cross-entropy losses");
    close(grad[0], grad[1], 1e-5, "cross-entropy gradient");
}

// ---- the fused quantized Lion step (lion_step.cu) ----
struct LionTensorData {
    int64_t rows, cols, g_block, m_block;
    std::vector<int8_t> w, g, m;
    std::vector<float> ws, gs, ms, values;
    std::vector<int32_t> row_ptr, col_idx;
};

LionTensorData lion_tensor(int64_t rows, int64_t cols, int64_t g_block, int64_t m_block, std::mt19937_64& rng) {
    LionTensorData t{rows, cols, g_block, m_block};
    std::uniform_int_distribution<int> code(-127, 127);
    std::uniform_real_distribution<float> scale(0.001f, 0.02f);
    std::bernoulli_distribution outlier(0.01);
    t.w.resize(rows * cols);
    t.g.resize(rows * cols);
    t.m.resize(rows * cols);
    for (auto* v : {&t.w, &t.g, &t.m})
        for (auto& c : *v) c = static_cast<int8_t>(code(rng));
    const int64_t gnb = (cols + g_block - 1) / g_block, mnb = (cols + m_block - 1) / m_block;
    t.ws.resize(rows);
    t.gs.resize(rows * gnb);
    t.ms.resize(rows * mnb);
    for (auto* v : {&t.ws, &t.gs, &t.ms})
        for (auto& s : *v) s = scale(rng);
    t.row_ptr.push_back(0);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c)
            if (outlier(rng)) {
                t.col_idx.push_back(static_cast<int32_t>(c));
                t.values.push_back((c % 2 ? 1.0f : -1.0f) * (0.5f + scale(rng) * 50));
                t.w[r * cols + c] = 0;  // an outlier's dense code is 0
            }
        t.row_ptr.push_back(static_cast<int32_t>(t.col_idx.size()));
    }
    if (t.values.empty()) t.values.push_back(0), t.col_idx.push_back(0);  // keep the arrays addressable
    return t;
}

std::vector<int64_t> lion_desc(std::vector<LionTensorData>& ts) {
    std::vector<int64_t> d;
    for (size_t i = 0; i < ts.size(); ++i) {
        auto& t = ts[i];
        int64_t f[QFT_LION_DESC_FIELDS];
        f[QFT_LION_ROWS] = t.rows;
        f[QFT_LION_COLS] = t.cols;
        f[QFT_LION_TENSOR_ID] = static_cast<int64_t>(i) + 11;
        f[QFT_LION_W_CODES] = addr(t.w);
        f[QFT_LION_W_SCALES] = addr(t.ws);
        f[QFT_LION_ROW_PTR] = addr(t.row_ptr);
        f[QFT_LION_COL_IDX] = addr(t.col_idx);
        f[QFT_LION_VALUES] = addr(t.values);
        f[QFT_LION_G_CODES] = addr(t.g);
        f[QFT_LION_G_SCALES] = addr(t.gs);
        f[QFT_LION_G_BLOCK] = t.g_block;
        f[QFT_LION_M_CODES] = addr(t.m);
        f[QFT_LION_M_SCALES] = addr(t.ms);
        f[QFT_LION_M_BLOCK] = t.m_block;
        d.insert(d.end(), f, f + QFT_LION_DESC_FIELDS);
    }
    return d;
}

void lion() {
    // Every kernel variant: 128 x 1 (2048), 128 x 2 (4096), 256 x 2 (8192), 256 x 3 (11008), 256 x 4 (16384), and the
    // row kernel (columns or blocks not multiples of 16, or wider than 16384), all in one multi-tensor call.
    const int64_t shapes[][4] = {{3, 5, 5, 5}, {4, 4096, 256, 256}, {2, 2048, 64, 128}, {2, 11008, 256, 256}, {2, 8192, 1024, 256},
                                 {2, 16384, 256, 256}, {3, 4097, 256, 256}, {2, 16400, 256, 256}, {3, 96, 40, 48}};
    for (int rounding : {QFT_ROUND_STOCHASTIC, QFT_ROUND_NEAREST, QFT_ROUND_STOCHASTIC_WEYL}) {
        std::mt19937_64 rng(100 + rounding);
        std::vector<LionTensorData> base;
        for (const auto& s : shapes) base.push_back(lion_tensor(s[0], s[1], s[2], s[3], rng));
        std::vector<LionTensorData> cpu = base, emu = base;
        auto dc = lion_desc(cpu), de = lion_desc(emu);
        int32_t flag_c = -1, flag_e = -1;
        const int64_t n = static_cast<int64_t>(base.size());
        for (int step = 1; step <= 3; ++step) {
            check_status(qft_quant_lion_step(QFT_DEVICE_CPU, dc.data(), n, 3e-4f, 0.9f, 0.99f, 0.1f, step, 42, rounding, addr(&flag_c)), "cpu lion");
            check_status(qft_cuda_quant_lion_step(0, de.data(), n, 3e-4f, 0.9f, 0.99f, 0.1f, step, 42, rounding, addr(&flag_e)), "emu lion");
        }
        for (size_t i = 0; i < base.size(); ++i) {
            const std::string at = "lion rounding " + std::to_string(rounding) + " (" + std::to_string(base[i].rows) + ", " +
                                   std::to_string(base[i].cols) + ") ";
            bits(cpu[i].w, emu[i].w, at + "weight codes");
            bits(cpu[i].ws, emu[i].ws, at + "weight scales");
            bits(cpu[i].m, emu[i].m, at + "momentum codes");
            bits(cpu[i].ms, emu[i].ms, at + "momentum scales");
            bits(cpu[i].values, emu[i].values, at + "outliers");
        }
        report(flag_c == 0 && flag_e == 0, "lion rounding " + std::to_string(rounding) + " non-finite flag", "clear on both");
        // A NaN gradient scale: the step changes nothing, and says so through the flag.
        emu[3].gs[1] = NAN;
        const std::vector<LionTensorData> before = emu;
        check_status(qft_cuda_quant_lion_step(0, de.data(), n, 3e-4f, 0.9f, 0.99f, 0.1f, 4, 42, rounding, addr(&flag_e)), "emu lion nan");
        bool same = flag_e == 1;
        for (size_t i = 0; i < base.size(); ++i) {
            size_t at;
            same = same && same_bits(before[i].w, emu[i].w, &at) && same_bits(before[i].m, emu[i].m, &at) &&
                   same_bits(before[i].values, emu[i].values, &at) && same_bits(before[i].ws, emu[i].ws, &at);
        }
        report(same, "lion rounding " + std::to_string(rounding) + " NaN gradient", "flag set, nothing changed");
    }
}

// ---- INT8 images of the outliers (outlier_codes.cu) ----
void outlier_codes() {
    std::mt19937_64 rng(3);
    const int64_t shapes[][2] = {{5, 7}, {64, 300}, {130, 1000}};
    for (const auto& s : shapes) {
        const int64_t rows = s[0], cols = s[1];
        std::vector<int32_t> row_ptr{0}, col_idx;
        std::vector<float> values;
        std::bernoulli_distribution pick(0.03);
        for (int64_t r = 0; r < rows; ++r) {
            if (r % 4 != 3)  // every fourth row holds no outlier: scale 0
                for (int64_t c = 0; c < cols; ++c)
                    if (pick(rng)) col_idx.push_back(static_cast<int32_t>(c)), values.push_back(randn(1, rng, 3.0f)[0]);
            row_ptr.push_back(static_cast<int32_t>(col_idx.size()));
        }
        if (rows > 10) values[values.size() / 2] = NAN;  // a row with a NaN outlier: NaN scale, zero codes
        for (int transpose = 0; transpose < 2; ++transpose) {
            std::vector<int8_t> codes[2] = {std::vector<int8_t>(rows * cols, 5), std::vector<int8_t>(rows * cols, 5)};
            std::vector<float> scales[2] = {std::vector<float>(rows, 9), std::vector<float>(rows, 9)};
            check_status(qft_hybrid_outlier_codes(QFT_DEVICE_CPU, rows, cols, addr(row_ptr), addr(col_idx), addr(values), transpose,
                                                  addr(codes[0]), addr(scales[0])),
                         "cpu outlier codes");
            check_status(qft_cuda_hybrid_outlier_codes(0, rows, cols, addr(row_ptr), addr(col_idx), addr(values), transpose, addr(codes[1]),
                                                       addr(scales[1])),
                         "emu outlier codes");
            const std::string at = "outlier codes (" + std::to_string(rows) + ", " + std::to_string(cols) + ")" + (transpose ? " transposed" : "");
            bits(codes[0], codes[1], at + " codes");
            bits(scales[0], scales[1], at + " scales");
        }
    }
}

// ---- the fused step's clip factors and the scaled fp32 Lion / scale ops (train_step.cu) ----
void train_step() {
    std::mt19937_64 rng(5);
    const double clip = 1.5;
    const int64_t rows[] = {3, 1, 4, 2, 5};
    for (int poison = -1; poison < 5; ++poison)
        for (int per_tensor = 0; per_tensor < 2; ++per_tensor) {
            std::vector<double> sums;
            for (int64_t r : rows)
                for (int64_t i = 0; i < r; ++i) sums.push_back(std::fabs(randn(1, rng)[0]) * 0.4);
            if (poison >= 0) {
                int64_t at = 0;
                for (int t = 0; t < poison; ++t) at += rows[t];
                sums[at] = poison % 2 ? INFINITY : NAN;
            }
            std::vector<int64_t> state[2] = {std::vector<int64_t>(4, 0), std::vector<int64_t>(4, 0)};
            std::vector<float> factors[2] = {std::vector<float>(5, 7), std::vector<float>(5, 7)};
            // Two groups of one step: the state carries the poison from the first into the second.
            for (int g = 0; g < 2; ++g) {
                const int64_t first = g ? 3 : 0, n = g ? 2 : 3, offset = g ? rows[0] + rows[1] + rows[2] : 0;
                check_status(qft_clip_factors(QFT_DEVICE_CPU, addr(sums.data() + offset), rows + first, n, clip, per_tensor, addr(state[0]),
                                              addr(factors[0].data() + first)),
                             "cpu clip");
                check_status(qft_cuda_clip_factors(0, addr(sums.data() + offset), rows + first, n, clip, per_tensor, addr(state[1]),
                                                   addr(factors[1].data() + first)),
                             "emu clip");
            }
            const std::string at = "clip factors (poison " + std::to_string(poison) + (per_tensor ? ", per tensor)" : ")");
            bits(factors[0], factors[1], at + " factors");
            bits(state[0], state[1], at + " state");
        }
    for (float factor : {0.75f, 1.0f, NAN}) {
        const int64_t n = 1000;
        auto w = randn(n, rng), g = randn(n, rng), m = randn(n, rng, 0.1f);
        std::vector<float> wc = w, mc = m, we = w, me = m, gc = g, ge = g;
        float f = factor;
        check_status(qft_lion_fp32_scaled_step(QFT_DEVICE_CPU, addr(wc), addr(g), addr(mc), n, 1e-3f, 0.9f, 0.99f, 0.1f, addr(&f)), "cpu lion32");
        check_status(qft_cuda_lion_fp32_scaled_step(0, addr(we), addr(g), addr(me), n, 1e-3f, 0.9f, 0.99f, 0.1f, addr(&f)), "emu lion32");
        check_status(qft_f32_scale(QFT_DEVICE_CPU, addr(gc), n, addr(&f)), "cpu scale");
        check_status(qft_cuda_f32_scale(0, addr(ge), n, addr(&f)), "emu scale");
        const std::string at = "fp32 Lion and scale, factor " + std::to_string(factor);
        bits(wc, we, at + " weights");
        bits(mc, me, at + " momentum");
        bits(gc, ge, at + " scaled gradient");
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string only = argc > 1 ? argv[1] : "";
    if (only.empty() || only == "matmul") matmuls();
    if (only.empty() || only == "attention") attention();
    if (only.empty() || only == "operands") operands();
    if (only.empty() || only == "cross_entropy") cross_entropy();
    if (only.empty() || only == "lion") lion();
    if (only.empty() || only == "outliers") outlier_codes();
    if (only.empty() || only == "train_step") train_step();
    std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
