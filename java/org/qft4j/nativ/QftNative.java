package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of QFT's own ops: hybrid dense/sparse weights ({@code qft4j/hybrid_weight.h}), INT8
 * gradient/momentum blocks ({@code qft4j/int8_blocks.h}) and the fused Lion step with its fp32 references
 * ({@code qft4j/lion_step.h}). Addresses are (device, int64) pairs from {@link CoreNative#qft_alloc}.
 * Use the API in {@code org.qft4j.qft}; load through {@link org.qft4j.Natives}.
 */
@Platform(include = {"qft4j/hybrid_weight.h", "qft4j/int8_blocks.h", "qft4j/lion_step.h"}, link = "qft4j")
public final class QftNative {
    private QftNative() {}

    public static final int QFT_LION_ROWS = 0, QFT_LION_COLS = 1, QFT_LION_TENSOR_ID = 2, QFT_LION_W_CODES = 3,
            QFT_LION_W_SCALES = 4, QFT_LION_ROW_PTR = 5, QFT_LION_COL_IDX = 6, QFT_LION_VALUES = 7, QFT_LION_G_CODES = 8,
            QFT_LION_G_SCALES = 9, QFT_LION_G_BLOCK = 10, QFT_LION_M_CODES = 11, QFT_LION_M_SCALES = 12,
            QFT_LION_M_BLOCK = 13, QFT_LION_DESC_FIELDS = 14;
    public static final int QFT_ROUND_STOCHASTIC = 0, QFT_ROUND_NEAREST = 1, QFT_ROUND_STOCHASTIC_WEYL = 2;

    public static native int qft_hybrid_nnz(long rows, long cols, double fraction, int perRow, @Cast("int64_t*") long[] outNnz);
    public static native int qft_hybrid_quantize(int device, long w, long rows, long cols, double fraction, int perRow,
            long codes, long scales, long rowPtr, long colIdx, long values, long nnz);
    public static native int qft_hybrid_dequantize(int device, long rows, long cols, long codes, long scales, long rowPtr,
            long colIdx, long values, long out);
    public static native int qft_hybrid_reselect(int device, long rows, long cols, double fraction, int perRow, long codes,
            long scales, long rowPtr, long colIdx, long values, long nnz);
    public static native int qft_hybrid_sparse_add(int device, long rows, long cols, long rowPtr, long colIdx, long values,
            long x, long tokens, long y);
    public static native int qft_hybrid_sparse_transpose(int device, long rows, long cols, long rowPtr, long colIdx, long values,
            long tPtr, long tIdx, long tValues, long nnzBound, long bad);
    public static native int qft_hybrid_outlier_codes(int device, long rows, long cols, long rowPtr, long colIdx, long values,
            int transpose, long codes, long scales);

    public static native int qft_int8_blocks_quantize(int device, long x, long rows, long cols, long block, int preserveSign,
            long codes, long scales);
    public static native int qft_int8_blocks_dequantize(int device, long codes, long scales, long rows, long cols, long block,
            long out);

    public static native int qft_quant_lion_step(int device, @Cast("const int64_t*") long[] desc, long nTensors, float lr,
            float beta1, float beta2, float weightDecay, long step, long seed, int rounding, long foundNonfinite);
    public static native int qft_lion_fp32_step(int device, long w, long g, long m, long n, float lr, float beta1, float beta2,
            float weightDecay);
    public static native int qft_adamw_fp32_step(int device, long w, long g, long m, long v, long n, float lr, float beta1,
            float beta2, float eps, float weightDecay, long step);
}
