// Causal grouped-query attention forward and backward: plain references and the device dispatch.
// Reference: llama2.c `forward` (multihead attention), llm.c `attention_forward_cpu` /
// `attention_backward_cpu`. CUDA twin: native/cuda/attention.cu, which sums in the same orders.
#include <cmath>

#include "../common/internal.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/attention.h"

namespace qft {

struct AttentionShape {
    int64_t B, T, nh, nkv, hs;
    int64_t group() const { return nh / nkv; }
    int64_t q_row(int64_t b, int64_t t, int64_t h) const { return ((b * T + t) * nh + h) * hs; }     // into q, out, dq
    int64_t kv_row(int64_t b, int64_t s, int64_t kvh) const { return ((b * T + s) * nkv + kvh) * hs; } // into k, v, dk, dv
    int64_t att_row(int64_t b, int64_t h, int64_t t) const { return ((b * nh + h) * T + t) * T; }
    float scale() const { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs))); }
};

// Query head h of sequence b, every position.
void attention_forward_ref(const AttentionShape& a, const float* q, const float* k, const float* v, int64_t b, int64_t h,
                           float* att, float* out) {
    const int64_t kvh = h / a.group();
    const float scale = a.scale();
    for (int64_t t = 0; t < a.T; ++t) {
        const float* qt = q + a.q_row(b, t, h);
        float* row = att + a.att_row(b, h, t);
        float max = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) {
            const float* ks = k + a.kv_row(b, s, kvh);
            float dot = 0.0f;
            for (int64_t j = 0; j < a.hs; ++j) dot += (qt[j] * scale) * ks[j];
            row[s] = dot;
            max = std::fmax(max, dot);
        }
        float sum = 0.0f;
        for (int64_t s = 0; s <= t; ++s) {
            row[s] = std::exp(row[s] - max);
            sum += row[s];
        }
        const float inv = 1.0f / sum;
        for (int64_t s = 0; s <= t; ++s) row[s] *= inv;
        for (int64_t s = t + 1; s < a.T; ++s) row[s] = 0.0f;
        float* ot = out + a.q_row(b, t, h);
        for (int64_t j = 0; j < a.hs; ++j) {
            float acc = 0.0f;
            for (int64_t s = 0; s <= t; ++s) acc += row[s] * v[a.kv_row(b, s, kvh) + j];
            ot[j] = acc;
        }
    }
}

// Key/value head kvh of sequence b: the score gradients and dq of its query heads, then its dk and dv.
void attention_backward_ref(const AttentionShape& a, const float* dout, const float* q, const float* k, const float* v,
                            const float* att, int64_t b, int64_t kvh, float* ds, float* dq, float* dk, float* dv) {
    const float scale = a.scale();
    const int64_t h0 = kvh * a.group(), h1 = h0 + a.group();
    for (int64_t h = h0; h < h1; ++h)
        for (int64_t t = 0; t < a.T; ++t) {
            const float *dout_t = dout + a.q_row(b, t, h), *p = att + a.att_row(b, h, t);
            float* d = ds + a.att_row(b, h, t);
            float weighted = 0.0f;
            for (int64_t s = 0; s <= t; ++s) {
                const float* vs = v + a.kv_row(b, s, kvh);
                float g = 0.0f;  // d loss / d att[s] = dout_t · v_s
                for (int64_t j = 0; j < a.hs; ++j) g += dout_t[j] * vs[j];
                d[s] = g;
                weighted += p[s] * g;
            }
            for (int64_t s = 0; s <= t; ++s) d[s] = p[s] * (d[s] - weighted) * scale;  // softmax backward, then 1/sqrt(hs)
            for (int64_t s = t + 1; s < a.T; ++s) d[s] = 0.0f;
            float* dqt = dq + a.q_row(b, t, h);
            for (int64_t j = 0; j < a.hs; ++j) {
                float acc = 0.0f;
                for (int64_t s = 0; s <= t; ++s) acc += d[s] * k[a.kv_row(b, s, kvh) + j];
                dqt[j] = acc;
            }
        }
    for (int64_t s = 0; s < a.T; ++s)
        for (int64_t j = 0; j < a.hs; ++j) {
            float gk = 0.0f, gv = 0.0f;
            for (int64_t h = h0; h < h1; ++h)
                for (int64_t t = s; t < a.T; ++t) {
                    gk += ds[a.att_row(b, h, t) + s] * q[a.q_row(b, t, h) + j];
                    gv += att[a.att_row(b, h, t) + s] * dout[a.q_row(b, t, h) + j];
                }
            dk[a.kv_row(b, s, kvh) + j] = gk;
            dv[a.kv_row(b, s, kvh) + j] = gv;
        }
}

}  // namespace qft

static bool bad_shape(int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs) {
    return B < 0 || T <= 0 || nh <= 0 || nkv <= 0 || hs <= 0 || nh % nkv != 0;
}

extern "C" int qft_attention_forward(int32_t device, int64_t q, int64_t k, int64_t v, int64_t B, int64_t T, int64_t nh,
                                     int64_t nkv, int64_t hs, int64_t att, int64_t out) {
    if (q == 0 || k == 0 || v == 0 || att == 0 || out == 0 || bad_shape(B, T, nh, nkv, hs))
        return qft_set_error(QFT_EINVAL,
                             "qft_attention_forward: bad arguments (B %lld, T %lld, heads %lld, kv heads %lld, head size %lld; "
                             "heads must be a multiple of kv heads, pointers non-null)",
                             (long long)B, (long long)T, (long long)nh, (long long)nkv, (long long)hs);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_attention_forward", device, q, k, v, B, T, nh, nkv, hs, att, out);
    return qft::guarded("qft_attention_forward", [&] {
        const qft::AttentionShape a{B, T, nh, nkv, hs};
        qft::parallel_for(B * nh, qft::grain_for(T * T * hs), [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                qft::attention_forward_ref(a, qft::ptr<float>(q), qft::ptr<float>(k), qft::ptr<float>(v), i / nh, i % nh,
                                           qft::ptr<float>(att), qft::ptr<float>(out));
        });
        return QFT_OK;
    });
}

extern "C" int qft_attention_backward(int32_t device, int64_t dout, int64_t q, int64_t k, int64_t v, int64_t att, int64_t B,
                                      int64_t T, int64_t nh, int64_t nkv, int64_t hs, int64_t scratch, int64_t dq, int64_t dk,
                                      int64_t dv) {
    if (dout == 0 || q == 0 || k == 0 || v == 0 || att == 0 || scratch == 0 || dq == 0 || dk == 0 || dv == 0 ||
        bad_shape(B, T, nh, nkv, hs))
        return qft_set_error(QFT_EINVAL,
                             "qft_attention_backward: bad arguments (B %lld, T %lld, heads %lld, kv heads %lld, head size %lld; "
                             "heads must be a multiple of kv heads, pointers non-null)",
                             (long long)B, (long long)T, (long long)nh, (long long)nkv, (long long)hs);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_attention_backward", device, dout, q, k, v, att, B, T, nh, nkv, hs, scratch, dq, dk, dv);
    return qft::guarded("qft_attention_backward", [&] {
        const qft::AttentionShape a{B, T, nh, nkv, hs};
        qft::parallel_for(B * nkv, qft::grain_for(4 * a.group() * T * T * hs), [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                qft::attention_backward_ref(a, qft::ptr<float>(dout), qft::ptr<float>(q), qft::ptr<float>(k), qft::ptr<float>(v),
                                            qft::ptr<float>(att), i / nkv, i % nkv, qft::ptr<float>(scratch), qft::ptr<float>(dq),
                                            qft::ptr<float>(dk), qft::ptr<float>(dv));
        });
        return QFT_OK;
    });
}
