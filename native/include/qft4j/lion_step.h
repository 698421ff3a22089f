/* The fused quantized Lion step of QFT (Li et al. 2023, arXiv 2310.07147, sec. 3.3; Lion: Chen et al.
 * 2023, arXiv 2302.06675; multi-tensor apply as in NVIDIA Apex / PyTorch _foreach optimizers), and the
 * fp32 Lion and AdamW references it is compared with.
 *
 * Quantized step, per element, in fp32 registers, all tensors in one pass (on CUDA one launch per row-length class):
 *   g = g_code * g_scale;  m = m_code * m_scale;  w = dense code * row scale, or the fp32 outlier
 *   c = b1*m + (1-b1)*g;   w = w*(1 - lr*wd) - lr*sign(c);   m = b2*m + (1-b2)*g
 * then writes back: momentum as INT8 blocks with new block scales (sign kept, int8_blocks.h), dense
 * weights as INT8 with a new per-row absmax scale over the non-outliers, stochastically rounded with
 * the counter-based RNG keyed by (seed, step, tensor_id, r, c) (QFT_ROUND_STOCHASTIC), stochastically
 * rounded with per-element low-discrepancy draws keyed by (seed, tensor_id, r, c) and advanced by
 * the step (QFT_ROUND_STOCHASTIC_WEYL, see rounding_stream in qft_math.h) or rounded to nearest, and the
 * outliers in place in fp32. CPU and CUDA produce bit-identical results (native/common/qft_math.h).
 *
 * Non-finite gradients: a pre-pass checks every gradient scale (a non-finite gradient value gives a NaN
 * scale, see int8_blocks.h) and sets *found_nonfinite (int32, on `device`); the step reads the flag and
 * changes nothing when it is set. No host sync happens on CUDA: read the flag when convenient.
 *
 * Tensor descriptors: `desc` is a host array of n_tensors * QFT_LION_DESC_FIELDS int64 values, one
 * record per tensor, fields at the QFT_LION_* offsets (addresses on `device`, layouts as in
 * hybrid_weight.h and int8_blocks.h; gradient and momentum have the weight's (rows, cols)). */
#ifndef QFT4J_LION_STEP_H
#define QFT4J_LION_STEP_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QFT_LION_ROWS 0
#define QFT_LION_COLS 1
#define QFT_LION_TENSOR_ID 2 /* RNG key of this tensor; keep it stable across a resume */
#define QFT_LION_W_CODES 3   /* (rows, cols) int8 */
#define QFT_LION_W_SCALES 4  /* (rows) fp32 */
#define QFT_LION_ROW_PTR 5   /* (rows+1) int32 */
#define QFT_LION_COL_IDX 6   /* (nnz) int32 */
#define QFT_LION_VALUES 7    /* (nnz) fp32 */
#define QFT_LION_G_CODES 8   /* (rows, cols) int8 */
#define QFT_LION_G_SCALES 9  /* (rows, ceil(cols/g_block)) fp32 */
#define QFT_LION_G_BLOCK 10
#define QFT_LION_M_CODES 11  /* (rows, cols) int8 */
#define QFT_LION_M_SCALES 12 /* (rows, ceil(cols/m_block)) fp32 */
#define QFT_LION_M_BLOCK 13
#define QFT_LION_DESC_FIELDS 14

#define QFT_ROUND_STOCHASTIC 0
#define QFT_ROUND_NEAREST 1
#define QFT_ROUND_STOCHASTIC_WEYL 2 /* stochastic, low-discrepancy over steps per element (qft_math.h) */

QFT_API int qft_quant_lion_step(int32_t device, const int64_t* desc, int64_t n_tensors, float lr, float beta1,
                                float beta2, float weight_decay, int64_t step, int64_t seed, int32_t rounding,
                                int64_t found_nonfinite);

/* fp32 references on the CPU (device must be QFT_DEVICE_CPU); w, g, m, v: (n) fp32, updated in place.
 * Lion: the element rule above without quantization. AdamW (Loshchilov & Hutter, arXiv 1711.05101,
 * as torch.optim.AdamW): w *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * w -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps), step >= 1. */
QFT_API int qft_lion_fp32_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t n, float lr, float beta1,
                               float beta2, float weight_decay);
QFT_API int qft_adamw_fp32_step(int32_t device, int64_t w, int64_t g, int64_t m, int64_t v, int64_t n, float lr,
                                float beta1, float beta2, float eps, float weight_decay, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
