/* Token embedding lookup and its gradient (the first layer of a LLaMA model; reference: llama2.c
 * `forward` copies `token_embedding_table + token * dim`, llm.c `encoder_forward/backward`).
 *
 * table, dtable: (vocab, dim) fp32 row-major; ids: (n) int32, each in [0, vocab);
 * out, dout: (n, dim) fp32 row-major.
 *   forward:  out[i, :] = table[ids[i], :]
 *   backward: dtable[ids[i], :] += dout[i, :]   (accumulates; a repeated id sums its rows in order of i,
 *             on both backends, so the result is deterministic). dtable holds rows [row0, row0 + rows) of
 *             the (vocab, dim) gradient (row0 = 0, rows = vocab: all of it); ids outside that range are
 *             skipped, so a gradient can be built a row range at a time (streamed into its INT8 form).
 *   forward_hybrid: the same lookup from a hybrid INT8 table (hybrid_weight.h: codes (vocab, dim) int8,
 *             scales (vocab) fp32, outliers in CSR row_ptr (vocab+1) int32, col_idx, values fp32): out[i, :] =
 *             codes[ids[i], :] * scales[ids[i]] with the row's outliers in place, bit for bit the row that
 *             qft_hybrid_dequantize gives (QFT trains the embedding in INT8 too: no fp32 table exists).
 * An id outside [0, vocab) makes the call return QFT_EINVAL (its row is left untouched). */
#ifndef QFT4J_EMBEDDING_H
#define QFT4J_EMBEDDING_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_embedding_forward(int32_t device, int64_t table, int64_t vocab, int64_t dim, int64_t ids, int64_t n,
                                  int64_t out);
QFT_API int qft_embedding_forward_hybrid(int32_t device, int64_t codes, int64_t scales, int64_t row_ptr, int64_t col_idx,
                                         int64_t values, int64_t vocab, int64_t dim, int64_t ids, int64_t n, int64_t out);
QFT_API int qft_embedding_backward(int32_t device, int64_t dout, int64_t ids, int64_t n, int64_t vocab, int64_t dim,
                                   int64_t row0, int64_t rows, int64_t dtable);

#ifdef __cplusplus
}
#endif
#endif
