// Token embedding lookup and gradient scatter-add: plain references and the device dispatch.
// Reference: llama2.c `forward` (row copy), llm.c `encoder_backward`. CUDA twin: native/cuda/embedding.cu.
#include <cstring>

#include "../common/internal.h"
#include "../common/qft_math.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/embedding.h"

namespace qft {

// Returns the number of ids outside [0, vocab); their rows of out are left untouched.
int64_t embedding_forward_ref(const float* table, int64_t vocab, int64_t dim, const int32_t* ids, int64_t n, float* out) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (ids[i] < 0 || ids[i] >= vocab) {
            ++bad;
            continue;
        }
        std::memcpy(out + i * dim, table + ids[i] * dim, dim * sizeof(float));
    }
    return bad;
}

// Rows [i0, i1) of the lookup from a hybrid INT8 table: each row as hybrid_dequantize_ref writes it.
int64_t embedding_forward_hybrid_ref(const int8_t* codes, const float* scales, const int32_t* row_ptr, const int32_t* col_idx,
                                     const float* values, int64_t vocab, int64_t dim, const int32_t* ids, int64_t i0, int64_t i1,
                                     float* out) {
    int64_t bad = 0;
    for (int64_t i = i0; i < i1; ++i) {
        const int32_t id = ids[i];
        if (id < 0 || id >= vocab) {
            ++bad;
            continue;
        }
        float* o = out + i * dim;
        for (int64_t c = 0; c < dim; ++c) o[c] = fmul(static_cast<float>(codes[id * dim + c]), scales[id]);
        for (int32_t j = row_ptr[id]; j < row_ptr[id + 1]; ++j) o[col_idx[j]] = values[j];
    }
    return bad;
}

// Columns [c0, c1) of dtable[ids[i] - row0, :] += dout[i, :] for the ids in [row0, row0 + rows), summed in order of i.
int64_t embedding_backward_ref(const float* dout, const int32_t* ids, int64_t n, int64_t vocab, int64_t dim, int64_t row0,
                               int64_t rows, int64_t c0, int64_t c1, float* dtable) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (ids[i] < 0 || ids[i] >= vocab) {
            ++bad;
            continue;
        }
        if (ids[i] < row0 || ids[i] >= row0 + rows) continue;
        float* row = dtable + (ids[i] - row0) * dim;
        const float* g = dout + i * dim;
        for (int64_t c = c0; c < c1; ++c) row[c] += g[c];
    }
    return bad;
}

}  // namespace qft

static int bad_ids(const char* fn, int64_t bad, int64_t n, int64_t vocab) {
    return qft_set_error(QFT_EINVAL, "%s: %lld of %lld ids are outside [0, %lld)", fn, (long long)bad, (long long)n,
                         (long long)vocab);
}

extern "C" int qft_embedding_forward(int32_t device, int64_t table, int64_t vocab, int64_t dim, int64_t ids, int64_t n,
                                     int64_t out) {
    if (table == 0 || ids == 0 || out == 0 || vocab <= 0 || dim <= 0 || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_embedding_forward: bad arguments (table (%lld, %lld), n %lld, null pointer?)",
                             (long long)vocab, (long long)dim, (long long)n);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_embedding_forward", device, table, vocab, dim, ids, n, out);
    return qft::guarded("qft_embedding_forward", [&] {
        int64_t bad = qft::embedding_forward_ref(qft::ptr<float>(table), vocab, dim, qft::ptr<int32_t>(ids), n, qft::ptr<float>(out));
        return bad > 0 ? bad_ids("qft_embedding_forward", bad, n, vocab) : QFT_OK;
    });
}

extern "C" int qft_embedding_forward_hybrid(int32_t device, int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx,
                                            int64_t values, int64_t vocab, int64_t dim, int64_t ids, int64_t n, int64_t out) {
    if (codes == 0 || scales == 0 || row_ptr == 0 || ids == 0 || out == 0 || vocab <= 0 || dim <= 0 || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_embedding_forward_hybrid: bad arguments (table (%lld, %lld), n %lld, null pointer?)",
                             (long long)vocab, (long long)dim, (long long)n);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_embedding_forward_hybrid", device, codes, scales, row_ptr, col_idx, values, vocab, dim, ids, n, out);
    return qft::guarded("qft_embedding_forward_hybrid", [&] {
        int64_t bad = qft::embedding_forward_hybrid_ref(qft::ptr<int8_t>(codes), qft::ptr<float>(scales), qft::ptr<int32_t>(row_ptr),
                                                        qft::ptr<int32_t>(col_idx), qft::ptr<float>(values), vocab, dim,
                                                        qft::ptr<int32_t>(ids), 0, n, qft::ptr<float>(out));
        return bad > 0 ? bad_ids("qft_embedding_forward_hybrid", bad, n, vocab) : QFT_OK;
    });
}

extern "C" int qft_embedding_backward(int32_t device, int64_t dout, int64_t ids, int64_t n, int64_t vocab, int64_t dim,
                                      int64_t row0, int64_t rows, int64_t dtable) {
    if (dout == 0 || ids == 0 || dtable == 0 || vocab <= 0 || dim <= 0 || n < 0 || row0 < 0 || rows < 0 || row0 + rows > vocab)
        return qft_set_error(QFT_EINVAL,
                             "qft_embedding_backward: bad arguments (dtable rows [%lld, %lld) of (%lld, %lld), n %lld, null pointer?)",
                             (long long)row0, (long long)(row0 + rows), (long long)vocab, (long long)dim, (long long)n);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_embedding_backward", device, dout, ids, n, vocab, dim, row0, rows, dtable);
    return qft::guarded("qft_embedding_backward", [&] {
        const int32_t* id = qft::ptr<int32_t>(ids);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; ++i) bad += id[i] < 0 || id[i] >= vocab;
        if (bad > 0) return bad_ids("qft_embedding_backward", bad, n, vocab);
        // Split by columns: threads never share an output element, and each sums over i in order.
        qft::parallel_for(dim, qft::grain_for(n), [&](int64_t c0, int64_t c1) {
            qft::embedding_backward_ref(qft::ptr<float>(dout), id, n, vocab, dim, row0, rows, c0, c1, qft::ptr<float>(dtable));
        });
        return QFT_OK;
    });
}
