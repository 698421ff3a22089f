/* INT8 matrix multiplication: the engine of every qft4j linear layer (QFT, Li et al. arXiv 2310.07147;
 * the row/column-scaled integer GEMM of LLM.int8(), Dettmers et al. arXiv 2208.07339).
 *
 *   Y[m,n] = row_scale[m] * col_scale[n] * sum_k A[m,k] * B[n,k]  (+ bias[n])  (+ Y[m,n] if accumulate)
 *
 *   A: (M,K) int8 row-major          row_scale: (M) fp32, or 0 for all ones
 *   B: (N,K) int8 row-major ("TN")   col_scale: (N) fp32, or 0 for all ones
 *   bias: (N) fp32 or 0              Y: (M,N) row-major, fp32 or bf16 (out_dtype)
 *
 * Integer exactness. Products are at most 128*128 = 16384 in magnitude, so an int32 sum of up to
 * QFT_INT8_MATMUL_MAX_EXACT_K = 131071 products can never overflow: for K <= 131071 the int32 dot product
 * is exact and every backend returns the same int32 bit for bit. For larger K (the weight-gradient
 * matmul dW = dY^T X reduces over tokens, 64 x 2048 = 131072 already) K is cut into chunks
 * [0, 65536), [65536, 131072), ... (QFT_INT8_MATMUL_K_CHUNK; the last chunk is shorter), each chunk is
 * summed exactly in int32, and the chunks are added in fp32 in increasing k order.
 *
 * The fp32 epilogue, evaluated in exactly this order with IEEE fp32 round-to-nearest and no fused
 * multiply-add, so that backends agree bit for bit on fp32 output too:
 *   s = (float)acc[chunk 0];  s = s + (float)acc[chunk c] for c = 1, 2, ...
 *   v = (s * row_scale[m]) * col_scale[n];   v = v + bias[n];   v = Y_old[m,n] + v (accumulate)
 *   Y[m,n] = v (fp32) or round-to-nearest-even bf16(v).
 *
 * The three matmuls of a linear layer y = x W^T with W: (out, in), all on this one TN kernel
 * (quantizers in qft4j/quantize_cols.h and qft4j/quantize_rows.h):
 *   forward   Y  = X W^T   : A = rows-quantized X (T, in),  B = W (out, in) with its per-row scales as col_scale.
 *   dX        dX = dY W    : the reduction runs over `out`, along which W's per-row scales vary, so they are
 *                            folded into dY before quantizing: A = rows-quantized (dY * s_W) (T, out),
 *                            B = W^T (in, out) from qft_transpose_i8, col_scale = 0 (ones).
 *   dW        dW = dY^T X  : the reduction runs over tokens: A = columns-quantized dY, i.e. (dY^T) codes
 *                            (out, T) with per-`out` scales; B = columns-quantized X (in, T) with per-`in`
 *                            scales. K = T, which is where the chunked K path is needed.
 *
 * Kernels. `kernel` selects the implementation (QFT_MM_*); QFT_MM_AUTO picks the fastest one the device
 * has. A kernel that the device or build lacks is an error (QFT_EUNSUPPORTED), never a silent fallback.
 * qft_int8_matmul_last_kernel() names the kernel that ran last on the calling thread, for logs. */
#ifndef QFT4J_INT8_MATMUL_H
#define QFT4J_INT8_MATMUL_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QFT_INT8_MATMUL_MAX_EXACT_K 131071
#define QFT_INT8_MATMUL_K_CHUNK 65536

/* Kernel selection. CPU: REF (plain loops), AVX2 (sign-extend to int16 + vpmaddwd), VNNI (AVX-512
 * vpdpbusd). CUDA: MMA (mma.sync m16n8k32 s8 IMMA, sm_80+), WGMMA (Hopper wgmma.mma_async fed by cp.async,
 * only in the sm90 library, sm_90a devices), TMA (wgmma fed by the tensor memory accelerator through an
 * mbarrier pipeline, warp-specialized and persistent: the fast Hopper kernel; same library and devices, and a
 * driver with cuTensorMapEncodeTiled). AUTO takes TMA, else WGMMA, else MMA. */
enum {
    QFT_MM_AUTO = 0,
    QFT_MM_CPU_REF = 1,
    QFT_MM_CPU_AVX2 = 2,
    QFT_MM_CPU_VNNI = 3,
    QFT_MM_CUDA_MMA = 16,
    QFT_MM_CUDA_WGMMA = 17,
    QFT_MM_CUDA_TMA = 18
};

/* Output element types of qft_int8_matmul. */
enum { QFT_OUT_F32 = 0, QFT_OUT_BF16 = 1 };

/* The scaled matmul above. Any M, N, K >= 0 (K = 0 gives bias / zero). y must not alias the inputs. */
QFT_API int qft_int8_matmul(int32_t device, int32_t kernel, int64_t a, int64_t row_scale, int64_t b,
                            int64_t col_scale, int64_t bias, int64_t y, int32_t out_dtype, int32_t accumulate,
                            int64_t M, int64_t N, int64_t K);

/* The exact integer product C[m,n] = sum_k A[m,k] * B[n,k], C: (M,N) int32 row-major, for comparing
 * backends bit for bit. K must be <= QFT_INT8_MATMUL_MAX_EXACT_K. */
QFT_API int qft_int8_matmul_i32(int32_t device, int32_t kernel, int64_t a, int64_t b, int64_t c,
                                int64_t M, int64_t N, int64_t K);

/* Name of the kernel that the last successful qft_int8_matmul* call on this thread ran, e.g.
 * "cpu-vnni-8x32" or "cuda-wgmma-128x128x64"; "" before the first call. */
QFT_API const char* qft_int8_matmul_last_kernel(void);

/* 1 when `kernel` can run on `device` in this process (CPU features, loaded CUDA library, GPU arch). */
QFT_API int32_t qft_int8_matmul_has_kernel(int32_t device, int32_t kernel);

#ifdef __cplusplus
}
#endif
#endif
