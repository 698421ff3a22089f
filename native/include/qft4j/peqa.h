/* PEQA: b-bit (b = 3 or 4) weight-only quantization whose scales are the only trainable parameters.
 * Kim et al., "Memory-Efficient Fine-Tuning of Compressed Large Language Models via sub-4-bit Integer
 * Quantization", NeurIPS 2023, arXiv 2305.14152. RTN initialisation as in GPTQ's `Quantizer`
 * (IST-DASLab/gptq, quant.py: asymmetric min/max with 0 in the range).
 *
 * The quantized weight of a (rows, cols) matrix W (rows = output features, cols = input features):
 *   group g of row r covers columns [g*G, min((g+1)*G, cols)), G = group_size, groups = ceil(cols/G);
 *   per-channel quantization is G = cols (one group per row); the last group may be partial.
 *   What[r,c] = s[r,g] * (q[r,c] - z[r,g]),   q in [0, 2^b - 1], z in [0, 2^b - 1]
 * s (scales) is fp32 and trainable; q (codes) and z (zero-points) are frozen integers.
 *
 * Memory layout (every array row-major, row r starts at a word boundary):
 *   codes:  (rows, words) uint32, words = ceil(cols / cpw), cpw = 32 / b codes per word:
 *           8 for 4-bit, 10 for 3-bit (30 bits used, the top 2 bits are 0).
 *           q[r,c] = (codes[r*words + c/cpw] >> (b * (c % cpw))) & (2^b - 1); padding codes are 0.
 *           Why 10 codes per word for 3 bits rather than 8 codes in 3 bytes: every code is read with one
 *           aligned 32-bit load, a shift and a mask, never straddling two words, on the CPU and on the GPU
 *           alike; the price is 3.2 instead of 3 bits per weight (+6.7%).
 *   scales: (rows, groups) fp32.
 *   zeros:  (rows, groups) uint8.
 *
 * Ops (device QFT_DEVICE_CPU or a CUDA ordinal; all arrays on that device):
 *   x, y: (tokens, cols) / (tokens, rows) fp32 activations; dy: (tokens, rows); dx: (tokens, cols).
 *   The scale gradient is computed without materialising dW = dyᵀx:
 *     ds[r,g] = sum_t dy[t,r] * sum_{c in g} x[t,c] * (q[r,c] - z[r,g]),
 *   a matmul-sized reduction per group; the frozen codes get no gradient memory at all. */
#ifndef QFT4J_PEQA_H
#define QFT4J_PEQA_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Words of 32 bits per packed row: ceil(cols / (32 / bits)); -1 for bits other than 3 or 4. */
QFT_API int64_t qft_peqa_words_per_row(int32_t bits, int64_t cols);

/* RTN initialisation (CPU only): per group, lo = min(0, min w), hi = max(0, max w) (lo = -1, hi = 1
 * when both are 0), s = (hi - lo) / (2^b - 1), z = round(-lo / s), q = clamp(round(w / s) + z, 0, 2^b - 1),
 * round = half to even. w: (rows, cols) fp32. Non-finite weights: QFT_EINVAL naming the row. */
QFT_API int qft_peqa_quantize_rtn(int32_t device, int64_t w, int64_t rows, int64_t cols, int32_t bits,
                                  int64_t group_size, int64_t codes, int64_t scales, int64_t zeros);

/* w = What (rows, cols) fp32. */
QFT_API int qft_peqa_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t zeros, int64_t rows,
                                int64_t cols, int32_t bits, int64_t group_size, int64_t w);

/* y = x · Whatᵀ (overwrites y). */
QFT_API int qft_peqa_matmul(int32_t device, int64_t x, int64_t tokens, int64_t codes, int64_t scales, int64_t zeros,
                            int64_t rows, int64_t cols, int32_t bits, int64_t group_size, int64_t y);

/* dx += dy · What. */
QFT_API int qft_peqa_matmul_backward_input(int32_t device, int64_t dy, int64_t tokens, int64_t codes, int64_t scales,
                                           int64_t zeros, int64_t rows, int64_t cols, int32_t bits,
                                           int64_t group_size, int64_t dx);

/* dscales += d(sum dy ⊙ (x · Whatᵀ)) / ds, (rows, groups) fp32; see the formula above. */
QFT_API int qft_peqa_scale_grad(int32_t device, int64_t dy, int64_t x, int64_t tokens, int64_t codes, int64_t zeros,
                                int64_t rows, int64_t cols, int32_t bits, int64_t group_size, int64_t dscales);

/* CPU only, for tests and benches: 1 routes the CPU ops of the calling thread to the plain reference
 * loops, 0 (the default) to the blocked fast path. */
QFT_API int qft_peqa_cpu_reference(int32_t on);

#ifdef __cplusplus
}
#endif
#endif
