// Causal grouped-query attention forward and backward: plain references and the device dispatch.
// Reference: llama2.c `forward` (multihead attention), llm.c `attention_forward_cpu` /
// `attention_backward_cpu`; as in FlashAttention-2 only the row log-sum-exp is kept for backward,
// which recomputes the probabilities. CUDA twin: native/cuda/attention.cu (fused, tiled; QFT_MATH_TF32
// on tensor cores in native/cuda/attention_tf32.cu).
#include <cmath>
#include <vector>

#include "../common/internal.h"
#include "../common/tf32.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/attention.h"

namespace qft {

struct AttentionShape {
    int64_t B, T, nh, nkv, hs;
    int64_t group() const { return nh / nkv; }
    int64_t q_row(int64_t b, int64_t t, int64_t h) const { return ((b * T + t) * nh + h) * hs; }     // into q, out, dq
    int64_t kv_row(int64_t b, int64_t s, int64_t kvh) const { return ((b * T + s) * nkv + kvh) * hs; } // into k, v, dk, dv
    int64_t stat(int64_t b, int64_t h, int64_t t) const { return (b * nh + h) * T + t; }              // into lse, delta
    float scale() const { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs))); }
};

// The references take the math mode (core.h) as Tf32: every factor of every product goes through R<Tf32>,
// sums stay fp32. With Tf32 they model the tensor-core kernels (native/cuda/attention_tf32.cu), which round
// each operand once where it enters shared memory, and where rounding depends on the order of operations
// they follow the kernels' order: out weights v by the unnormalised exp(z - max) and divides by the row sum
// after (the kernels round P before they know the sum), and delta is rowsum(dout * out) of the rounded out.
// Without Tf32 they are the plain fp32 references.
template <bool Tf32>
inline float R(float x) {
    return Tf32 ? tf32_round(x) : x;
}

// z[s] = (q_t · k_s) / sqrt(hs) for s <= t.
template <bool Tf32>
static void scores(const AttentionShape& a, const float* qt, const float* k, int64_t b, int64_t kvh, int64_t t, float* z) {
    const float scale = a.scale();
    for (int64_t s = 0; s <= t; ++s) {
        const float* ks = k + a.kv_row(b, s, kvh);
        float dot = 0.0f;
        for (int64_t j = 0; j < a.hs; ++j) dot += R<Tf32>(qt[j]) * R<Tf32>(ks[j]);
        z[s] = dot * scale;
    }
}

// Query head h of sequence b, every position.
template <bool Tf32>
void attention_forward_ref(const AttentionShape& a, const float* q, const float* k, const float* v, int64_t b, int64_t h,
                           float* lse, float* out) {
    const int64_t kvh = h / a.group();
    std::vector<float> p(a.T);  // (T): one row of probabilities
    for (int64_t t = 0; t < a.T; ++t) {
        scores<Tf32>(a, q + a.q_row(b, t, h), k, b, kvh, t, p.data());
        float max = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) max = std::fmax(max, p[s]);
        float sum = 0.0f;
        for (int64_t s = 0; s <= t; ++s) {
            p[s] = std::exp(p[s] - max);
            sum += p[s];
        }
        lse[a.stat(b, h, t)] = max + std::log(sum);
        const float inv = 1.0f / sum;
        if (!Tf32)
            for (int64_t s = 0; s <= t; ++s) p[s] *= inv;
        float* ot = out + a.q_row(b, t, h);
        for (int64_t j = 0; j < a.hs; ++j) {
            float acc = 0.0f;
            for (int64_t s = 0; s <= t; ++s) acc += R<Tf32>(p[s]) * R<Tf32>(v[a.kv_row(b, s, kvh) + j]);
            ot[j] = Tf32 ? acc * inv : acc;
        }
    }
}

// Key/value head kvh of sequence b: dq of its query heads, and its dk and dv summed over those heads
// and positions t in increasing order.
template <bool Tf32>
void attention_backward_ref(const AttentionShape& a, const float* dout, const float* q, const float* k, const float* v,
                            const float* out, const float* lse, int64_t b, int64_t kvh, float* delta, float* dq, float* dk,
                            float* dv) {
    const float scale = a.scale();
    std::vector<float> p(a.T), d(a.T);  // (T): one row of probabilities and of score gradients
    for (int64_t s = 0; s < a.T; ++s)
        for (int64_t j = 0; j < a.hs; ++j) dk[a.kv_row(b, s, kvh) + j] = dv[a.kv_row(b, s, kvh) + j] = 0.0f;
    for (int64_t h = kvh * a.group(); h < (kvh + 1) * a.group(); ++h)
        for (int64_t t = 0; t < a.T; ++t) {
            const float *qt = q + a.q_row(b, t, h), *dout_t = dout + a.q_row(b, t, h);
            scores<Tf32>(a, qt, k, b, kvh, t, p.data());
            float weighted = 0.0f;  // delta: sum_s p[s] g[s] = dout_t · out_t
            for (int64_t s = 0; s <= t; ++s) {
                p[s] = std::exp(p[s] - lse[a.stat(b, h, t)]);
                const float* vs = v + a.kv_row(b, s, kvh);
                float g = 0.0f;  // d loss / d p[s] = dout_t · v_s
                for (int64_t j = 0; j < a.hs; ++j) g += R<Tf32>(dout_t[j]) * R<Tf32>(vs[j]);
                d[s] = g;
                if (!Tf32) weighted += p[s] * g;
            }
            if (Tf32)
                for (int64_t j = 0; j < a.hs; ++j) weighted += dout_t[j] * out[a.q_row(b, t, h) + j];
            delta[a.stat(b, h, t)] = weighted;
            for (int64_t s = 0; s <= t; ++s) d[s] = p[s] * (d[s] - weighted) * scale;  // softmax backward, then 1/sqrt(hs)
            float* dqt = dq + a.q_row(b, t, h);
            for (int64_t j = 0; j < a.hs; ++j) {
                float acc = 0.0f;
                for (int64_t s = 0; s <= t; ++s) acc += R<Tf32>(d[s]) * R<Tf32>(k[a.kv_row(b, s, kvh) + j]);
                dqt[j] = acc;
            }
            for (int64_t s = 0; s <= t; ++s)
                for (int64_t j = 0; j < a.hs; ++j) {
                    dk[a.kv_row(b, s, kvh) + j] += R<Tf32>(d[s]) * R<Tf32>(qt[j]);
                    dv[a.kv_row(b, s, kvh) + j] += R<Tf32>(p[s]) * R<Tf32>(dout_t[j]);
                }
        }
}

}  // namespace qft

static bool bad_shape(int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs) {
    return B < 0 || T <= 0 || nh <= 0 || nkv <= 0 || hs <= 0 || nh % nkv != 0;
}

static bool bad_math(int32_t math) { return math != QFT_MATH_FP32 && math != QFT_MATH_TF32; }

extern "C" int qft_attention_forward(int32_t device, int64_t q, int64_t k, int64_t v, int64_t B, int64_t T, int64_t nh,
                                     int64_t nkv, int64_t hs, int64_t lse, int64_t out, int32_t math) {
    if (q == 0 || k == 0 || v == 0 || lse == 0 || out == 0 || bad_shape(B, T, nh, nkv, hs))
        return qft_set_error(QFT_EINVAL,
                             "qft_attention_forward: bad arguments (B %lld, T %lld, heads %lld, kv heads %lld, head size %lld; "
                             "heads must be a multiple of kv heads, pointers non-null)",
                             (long long)B, (long long)T, (long long)nh, (long long)nkv, (long long)hs);
    if (bad_math(math))
        return qft_set_error(QFT_EINVAL, "qft_attention_forward: math %d is neither QFT_MATH_FP32 (0) nor QFT_MATH_TF32 (1)", math);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_attention_forward", device, q, k, v, B, T, nh, nkv, hs, lse, out, math);
    return qft::guarded("qft_attention_forward", [&] {
        const qft::AttentionShape a{B, T, nh, nkv, hs};
        const auto ref = math == QFT_MATH_TF32 ? qft::attention_forward_ref<true> : qft::attention_forward_ref<false>;
        qft::parallel_for(B * nh, qft::grain_for(T * T * hs), [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                ref(a, qft::ptr<float>(q), qft::ptr<float>(k), qft::ptr<float>(v), i / nh, i % nh, qft::ptr<float>(lse),
                    qft::ptr<float>(out));
        });
        return QFT_OK;
    });
}

// For QFT_MATH_FP32 the CPU reference computes delta from the recomputed probabilities and does not read
// `out`; for QFT_MATH_TF32 it takes delta = rowsum(dout * out), as the CUDA kernels do in both modes.
extern "C" int qft_attention_backward(int32_t device, int64_t dout, int64_t q, int64_t k, int64_t v, int64_t out, int64_t lse,
                                      int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs, int64_t delta, int64_t dq,
                                      int64_t dk, int64_t dv, int32_t math) {
    if (dout == 0 || q == 0 || k == 0 || v == 0 || out == 0 || lse == 0 || delta == 0 || dq == 0 || dk == 0 || dv == 0 ||
        bad_shape(B, T, nh, nkv, hs))
        return qft_set_error(QFT_EINVAL,
                             "qft_attention_backward: bad arguments (B %lld, T %lld, heads %lld, kv heads %lld, head size %lld; "
                             "heads must be a multiple of kv heads, pointers non-null)",
                             (long long)B, (long long)T, (long long)nh, (long long)nkv, (long long)hs);
    if (bad_math(math))
        return qft_set_error(QFT_EINVAL, "qft_attention_backward: math %d is neither QFT_MATH_FP32 (0) nor QFT_MATH_TF32 (1)", math);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_attention_backward", device, dout, q, k, v, out, lse, B, T, nh, nkv, hs, delta, dq, dk,
                              dv, math);
    return qft::guarded("qft_attention_backward", [&] {
        const qft::AttentionShape a{B, T, nh, nkv, hs};
        const auto ref = math == QFT_MATH_TF32 ? qft::attention_backward_ref<true> : qft::attention_backward_ref<false>;
        qft::parallel_for(B * nkv, qft::grain_for(4 * a.group() * T * T * hs), [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                ref(a, qft::ptr<float>(dout), qft::ptr<float>(q), qft::ptr<float>(k), qft::ptr<float>(v), qft::ptr<float>(out),
                    qft::ptr<float>(lse), i / nkv, i % nkv, qft::ptr<float>(delta), qft::ptr<float>(dq), qft::ptr<float>(dk), qft::ptr<float>(dv));
        });
        return QFT_OK;
    });
}
