// PEQA b-bit weights on the CPU: RTN initialisation, dequantization, the dequantize-in-the-matmul
// forward, the input gradient and the fused scale gradient. Plain references (*_ref) state each op as
// loops over the definition in qft4j/peqa.h; the fast path (*_fast) decodes a block of 4 rows into a
// small fp32 buffer (never the whole matrix) and runs SIMD dot products / axpys over it.
// Paper: arXiv 2305.14152 (PEQA). RTN: GPTQ quant.py `Quantizer`. CUDA twin: native/cuda/peqa.cu.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "../common/internal.h"
#include "../common/peqa_layout.h"
#include "parallel.h"
#include "qft4j/peqa.h"

namespace qft {
namespace {

thread_local bool use_reference = false;

// ---- reference ------------------------------------------------------------------------------------

// w: (rows, cols); returns the first row holding NaN/Inf, or -1.
int64_t quantize_rtn_ref(const float* w, const PeqaLayout& l, int64_t r0, int64_t r1, uint32_t* codes, float* scales,
                         uint8_t* zeros) {
    const float maxq = static_cast<float>(l.mask);
    for (int64_t r = r0; r < r1; ++r) {
        const float* wr = w + r * l.cols;
        uint32_t* qr = codes + r * l.words;
        for (int64_t i = 0; i < l.words; ++i) qr[i] = 0;
        for (int64_t g = 0; g < l.groups; ++g) {
            int64_t c0 = g * l.group, c1 = std::min(l.cols, c0 + l.group);
            float lo = 0.0f, hi = 0.0f;
            for (int64_t c = c0; c < c1; ++c) {
                if (!std::isfinite(wr[c])) return r;
                lo = std::min(lo, wr[c]);
                hi = std::max(hi, wr[c]);
            }
            if (lo == 0.0f && hi == 0.0f) lo = -1.0f, hi = 1.0f;
            float s = (hi - lo) / maxq;
            float z = std::nearbyint(-lo / s);
            scales[r * l.groups + g] = s;
            zeros[r * l.groups + g] = static_cast<uint8_t>(z);
            for (int64_t c = c0; c < c1; ++c) {
                float q = std::fmin(maxq, std::fmax(0.0f, std::nearbyint(wr[c] / s) + z));
                qr[c / l.cpw] |= static_cast<uint32_t>(q) << (l.bits * (c % l.cpw));
            }
        }
    }
    return -1;
}

// What[r,c], or (q - z) when scales is null.
inline float weight_ref(const uint32_t* codes, const float* scales, const uint8_t* zeros, const PeqaLayout& l, int64_t r,
                        int64_t c) {
    int64_t g = c / l.group;
    float u = static_cast<float>(peqa_code(codes + r * l.words, l, c)) - static_cast<float>(zeros[r * l.groups + g]);
    return scales ? scales[r * l.groups + g] * u : u;
}

void dequantize_ref(const uint32_t* codes, const float* scales, const uint8_t* zeros, const PeqaLayout& l, float* w) {
    for (int64_t r = 0; r < l.rows; ++r)
        for (int64_t c = 0; c < l.cols; ++c) w[r * l.cols + c] = weight_ref(codes, scales, zeros, l, r, c);
}

void matmul_ref(const float* x, int64_t tokens, const uint32_t* codes, const float* scales, const uint8_t* zeros,
                const PeqaLayout& l, float* y) {
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < l.rows; ++r) {
            float acc = 0.0f;
            for (int64_t c = 0; c < l.cols; ++c) acc += x[t * l.cols + c] * weight_ref(codes, scales, zeros, l, r, c);
            y[t * l.rows + r] = acc;
        }
}

void backward_input_ref(const float* dy, int64_t tokens, const uint32_t* codes, const float* scales,
                        const uint8_t* zeros, const PeqaLayout& l, float* dx) {
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t c = 0; c < l.cols; ++c) {
            float acc = 0.0f;
            for (int64_t r = 0; r < l.rows; ++r) acc += dy[t * l.rows + r] * weight_ref(codes, scales, zeros, l, r, c);
            dx[t * l.cols + c] += acc;
        }
}

void scale_grad_ref(const float* dy, const float* x, int64_t tokens, const uint32_t* codes, const uint8_t* zeros,
                    const PeqaLayout& l, float* ds) {
    for (int64_t r = 0; r < l.rows; ++r)
        for (int64_t g = 0; g < l.groups; ++g) {
            int64_t c0 = g * l.group, c1 = std::min(l.cols, c0 + l.group);
            float acc = 0.0f;
            for (int64_t t = 0; t < tokens; ++t) {
                float p = 0.0f;
                for (int64_t c = c0; c < c1; ++c) p += x[t * l.cols + c] * weight_ref(codes, nullptr, zeros, l, r, c);
                acc += dy[t * l.rows + r] * p;
            }
            ds[r * l.groups + g] += acc;
        }
}

// ---- fast path ------------------------------------------------------------------------------------

constexpr int64_t kRowBlock = 4;

// out[0..cols) = row r of What (or q - z when scales is null): codes unpacked a word at a time, then
// shifted and scaled per group.
void decode_row(const uint32_t* codes, const float* scales, const uint8_t* zeros, const PeqaLayout& l, int64_t r,
                float* out) {
    const uint32_t* qr = codes + r * l.words;
    for (int64_t i = 0, c = 0; i < l.words; ++i) {
        uint32_t v = qr[i];
        for (int j = 0; j < l.cpw && c < l.cols; ++j, ++c, v >>= l.bits) out[c] = static_cast<float>(v & l.mask);
    }
    for (int64_t g = 0; g < l.groups; ++g) {
        int64_t c0 = g * l.group, c1 = std::min(l.cols, c0 + l.group);
        float s = scales ? scales[r * l.groups + g] : 1.0f;
        float z = static_cast<float>(zeros[r * l.groups + g]);
        for (int64_t c = c0; c < c1; ++c) out[c] = s * (out[c] - z);
    }
}

// out[k] = dot(x, w[k]) for the 4 rows of a block; 16 independent accumulators per row so that the
// compiler emits vector FMAs without reassociating a single sum.
__attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
void dot4(const float* x, const float* w0, const float* w1, const float* w2, const float* w3, int64_t n, float* out) {
    float a0[16] = {}, a1[16] = {}, a2[16] = {}, a3[16] = {};
    int64_t c = 0;
    for (; c + 16 <= n; c += 16)
        for (int k = 0; k < 16; ++k) {
            float xv = x[c + k];
            a0[k] += xv * w0[c + k];
            a1[k] += xv * w1[c + k];
            a2[k] += xv * w2[c + k];
            a3[k] += xv * w3[c + k];
        }
    for (int k = 0; c + k < n; ++k) {
        float xv = x[c + k];
        a0[k] += xv * w0[c + k];
        a1[k] += xv * w1[c + k];
        a2[k] += xv * w2[c + k];
        a3[k] += xv * w3[c + k];
    }
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int k = 0; k < 16; ++k) s0 += a0[k], s1 += a1[k], s2 += a2[k], s3 += a3[k];
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

// dx[0..n) += d0*w0 + d1*w1 + d2*w2 + d3*w3.
__attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
void axpy4(float* dx, const float* d, const float* w0, const float* w1, const float* w2, const float* w3, int64_t n) {
    const float d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
    for (int64_t c = 0; c < n; ++c) dx[c] += d0 * w0[c] + d1 * w1[c] + d2 * w2[c] + d3 * w3[c];
}

// Decodes rows [r, r + 4) into buf (4, cols); rows past the end are zero so that blocks need no tail case.
void decode_block(const uint32_t* codes, const float* scales, const uint8_t* zeros, const PeqaLayout& l, int64_t r,
                  float* buf) {
    for (int64_t k = 0; k < kRowBlock; ++k) {
        if (r + k < l.rows) decode_row(codes, scales, zeros, l, r + k, buf + k * l.cols);
        else std::fill(buf + k * l.cols, buf + (k + 1) * l.cols, 0.0f);
    }
}

std::vector<float>& block_buffer(const PeqaLayout& l) {
    thread_local std::vector<float> buf;
    buf.resize(static_cast<size_t>(kRowBlock * l.cols));
    return buf;
}

void matmul_fast(const float* x, int64_t tokens, const uint32_t* codes, const float* scales, const uint8_t* zeros,
                 const PeqaLayout& l, float* y) {
    int64_t blocks = (l.rows + kRowBlock - 1) / kRowBlock;
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        float* w = block_buffer(l).data();
        const int64_t n = l.cols;
        for (int64_t b = b0; b < b1; ++b) {
            int64_t r = b * kRowBlock, nr = std::min(kRowBlock, l.rows - r);
            decode_block(codes, scales, zeros, l, r, w);
            for (int64_t t = 0; t < tokens; ++t) {
                float out[kRowBlock];
                dot4(x + t * n, w, w + n, w + 2 * n, w + 3 * n, n, out);
                for (int64_t k = 0; k < nr; ++k) y[t * l.rows + r + k] = out[k];
            }
        }
    });
}

// Workers own disjoint token ranges of dx and each decodes every row block once.
void backward_input_fast(const float* dy, int64_t tokens, const uint32_t* codes, const float* scales,
                         const uint8_t* zeros, const PeqaLayout& l, float* dx) {
    parallel_for(tokens, 16, [&](int64_t t0, int64_t t1) {
        float* w = block_buffer(l).data();
        const int64_t n = l.cols;
        for (int64_t r = 0; r < l.rows; r += kRowBlock) {
            int64_t nr = std::min(kRowBlock, l.rows - r);
            decode_block(codes, scales, zeros, l, r, w);
            for (int64_t t = t0; t < t1; ++t) {
                float d[kRowBlock] = {};
                for (int64_t k = 0; k < nr; ++k) d[k] = dy[t * l.rows + r + k];
                axpy4(dx + t * n, d, w, w + n, w + 2 * n, w + 3 * n, n);
            }
        }
    });
}

// Per row block: u = q - z decoded once, then for every token and group the partial dot
// p = x[t, g] · u[g] times dy[t, r] is summed into ds[r, g]; dW is never formed.
void scale_grad_fast(const float* dy, const float* x, int64_t tokens, const uint32_t* codes, const uint8_t* zeros,
                     const PeqaLayout& l, float* ds) {
    int64_t blocks = (l.rows + kRowBlock - 1) / kRowBlock;
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        float* u = block_buffer(l).data();
        const int64_t n = l.cols;
        thread_local std::vector<float> acc;
        acc.resize(static_cast<size_t>(kRowBlock * l.groups));
        for (int64_t b = b0; b < b1; ++b) {
            int64_t r = b * kRowBlock, nr = std::min(kRowBlock, l.rows - r);
            decode_block(codes, nullptr, zeros, l, r, u);
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int64_t t = 0; t < tokens; ++t) {
                const float* xt = x + t * n;
                float d[kRowBlock] = {};
                for (int64_t k = 0; k < nr; ++k) d[k] = dy[t * l.rows + r + k];
                for (int64_t g = 0; g < l.groups; ++g) {
                    int64_t c0 = g * l.group, len = std::min(l.cols, c0 + l.group) - c0;
                    float p[kRowBlock];
                    dot4(xt + c0, u + c0, u + n + c0, u + 2 * n + c0, u + 3 * n + c0, len, p);
                    for (int64_t k = 0; k < kRowBlock; ++k) acc[k * l.groups + g] += d[k] * p[k];
                }
            }
            for (int64_t k = 0; k < nr; ++k)
                for (int64_t g = 0; g < l.groups; ++g) ds[(r + k) * l.groups + g] += acc[k * l.groups + g];
        }
    });
}

// ---- argument checks ------------------------------------------------------------------------------

int check_layout(const char* fn, int64_t rows, int64_t cols, int32_t bits, int64_t group_size, int64_t tokens) {
    if (bits != 3 && bits != 4)
        return qft_set_error(QFT_EINVAL, "%s: bits must be 3 or 4, got %d", fn, bits);
    if (rows < 0 || cols < 0 || tokens < 0 || group_size < 1)
        return qft_set_error(QFT_EINVAL, "%s: bad shape: W (%lld, %lld), tokens %lld, group size %lld", fn, (long long)rows,
                             (long long)cols, (long long)tokens, (long long)group_size);
    return QFT_OK;
}

int null_arg(const char* fn, int64_t rows, int64_t cols) {
    return qft_set_error(QFT_EINVAL, "%s: null address for W (%lld, %lld)", fn, (long long)rows, (long long)cols);
}

}  // namespace
}  // namespace qft

using qft::ptr;

extern "C" int64_t qft_peqa_words_per_row(int32_t bits, int64_t cols) { return qft::peqa_words_per_row(bits, cols); }

extern "C" int qft_peqa_cpu_reference(int32_t on) {
    qft::use_reference = on != 0;
    return QFT_OK;
}

extern "C" int qft_peqa_quantize_rtn(int32_t device, int64_t w, int64_t rows, int64_t cols, int32_t bits,
                                     int64_t group_size, int64_t codes, int64_t scales, int64_t zeros) {
    const char* fn = "qft_peqa_quantize_rtn";
    if (int st = qft::check_layout(fn, rows, cols, bits, group_size, 0)) return st;
    if (w == 0 || codes == 0 || scales == 0 || zeros == 0) return qft::null_arg(fn, rows, cols);
    if (device != QFT_DEVICE_CPU)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: RTN initialisation runs on the CPU; copy the packed weight to cuda:%d",
                             fn, device);
    return qft::guarded(fn, [&] {
        qft::PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
        std::atomic<int64_t> bad{-1};
        qft::parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
            int64_t r = qft::quantize_rtn_ref(ptr<float>(w), l, r0, r1, ptr<uint32_t>(codes), ptr<float>(scales),
                                              ptr<uint8_t>(zeros));
            int64_t cur = bad.load();
            while (r >= 0 && (cur < 0 || r < cur) && !bad.compare_exchange_weak(cur, r)) {}
        });
        if (bad.load() >= 0)
            return qft_set_error(QFT_EINVAL, "%s: row %lld of W (%lld, %lld) holds NaN/Inf", fn, (long long)bad.load(),
                                 (long long)rows, (long long)cols);
        return QFT_OK;
    });
}

extern "C" int qft_peqa_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t zeros, int64_t rows,
                                   int64_t cols, int32_t bits, int64_t group_size, int64_t w) {
    const char* fn = "qft_peqa_dequantize";
    if (int st = qft::check_layout(fn, rows, cols, bits, group_size, 0)) return st;
    if (w == 0 || codes == 0 || scales == 0 || zeros == 0) return qft::null_arg(fn, rows, cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_peqa_dequantize", device, codes, scales, zeros, rows, cols, bits, group_size, w);
    return qft::guarded(fn, [&] {
        qft::PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
        if (qft::use_reference) {
            qft::dequantize_ref(ptr<uint32_t>(codes), ptr<float>(scales), ptr<uint8_t>(zeros), l, ptr<float>(w));
            return QFT_OK;
        }
        qft::parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r)
                qft::decode_row(ptr<uint32_t>(codes), ptr<float>(scales), ptr<uint8_t>(zeros), l, r, ptr<float>(w) + r * cols);
        });
        return QFT_OK;
    });
}

extern "C" int qft_peqa_matmul(int32_t device, int64_t x, int64_t tokens, int64_t codes, int64_t scales, int64_t zeros,
                               int64_t rows, int64_t cols, int32_t bits, int64_t group_size, int64_t y) {
    const char* fn = "qft_peqa_matmul";
    if (int st = qft::check_layout(fn, rows, cols, bits, group_size, tokens)) return st;
    if (x == 0 || y == 0 || codes == 0 || scales == 0 || zeros == 0) return qft::null_arg(fn, rows, cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_peqa_matmul", device, x, tokens, codes, scales, zeros, rows, cols, bits, group_size, y);
    return qft::guarded(fn, [&] {
        qft::PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
        auto op = qft::use_reference ? qft::matmul_ref : qft::matmul_fast;
        op(ptr<float>(x), tokens, ptr<uint32_t>(codes), ptr<float>(scales), ptr<uint8_t>(zeros), l, ptr<float>(y));
        return QFT_OK;
    });
}

extern "C" int qft_peqa_matmul_backward_input(int32_t device, int64_t dy, int64_t tokens, int64_t codes, int64_t scales,
                                              int64_t zeros, int64_t rows, int64_t cols, int32_t bits,
                                              int64_t group_size, int64_t dx) {
    const char* fn = "qft_peqa_matmul_backward_input";
    if (int st = qft::check_layout(fn, rows, cols, bits, group_size, tokens)) return st;
    if (dy == 0 || dx == 0 || codes == 0 || scales == 0 || zeros == 0) return qft::null_arg(fn, rows, cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_peqa_matmul_backward_input", device, dy, tokens, codes, scales, zeros, rows, cols,
                              bits, group_size, dx);
    return qft::guarded(fn, [&] {
        qft::PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
        auto op = qft::use_reference ? qft::backward_input_ref : qft::backward_input_fast;
        op(ptr<float>(dy), tokens, ptr<uint32_t>(codes), ptr<float>(scales), ptr<uint8_t>(zeros), l, ptr<float>(dx));
        return QFT_OK;
    });
}

extern "C" int qft_peqa_scale_grad(int32_t device, int64_t dy, int64_t x, int64_t tokens, int64_t codes, int64_t zeros,
                                   int64_t rows, int64_t cols, int32_t bits, int64_t group_size, int64_t dscales) {
    const char* fn = "qft_peqa_scale_grad";
    if (int st = qft::check_layout(fn, rows, cols, bits, group_size, tokens)) return st;
    if (dy == 0 || x == 0 || dscales == 0 || codes == 0 || zeros == 0) return qft::null_arg(fn, rows, cols);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_peqa_scale_grad", device, dy, x, tokens, codes, zeros, rows, cols, bits, group_size,
                              dscales);
    return qft::guarded(fn, [&] {
        qft::PeqaLayout l = qft::peqa_layout(rows, cols, bits, group_size);
        auto op = qft::use_reference ? qft::scale_grad_ref : qft::scale_grad_fast;
        op(ptr<float>(dy), ptr<float>(x), tokens, ptr<uint32_t>(codes), ptr<uint8_t>(zeros), l, ptr<float>(dscales));
        return QFT_OK;
    });
}
