package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the INT8 matmul ({@code native/include/qft4j/int8_matmul.h}) and its operand
 * preparation ({@code native/include/qft4j/quantize_operands.h}). Addresses are (device, int64) pairs from
 * {@link CoreNative#qft_alloc}; 0 stands for an absent optional operand. Load through {@link org.qft4j.Natives}.
 */
@Platform(include = {"qft4j/int8_matmul.h", "qft4j/quantize_operands.h"}, link = "qft4j")
public final class MatmulNative {
    private MatmulNative() {}

    public static native int qft_int8_matmul(int device, int kernel, long a, long rowScale, long b, long colScale, long bias,
            long y, int outDtype, int accumulate, long m, long n, long k);
    public static native int qft_int8_matmul_i32(int device, int kernel, long a, long b, long c, long m, long n, long k);
    public static native String qft_int8_matmul_last_kernel();
    public static native int qft_int8_matmul_has_kernel(int device, int kernel);

    public static native int qft_quantize_rows_absmax_ex(int device, int xDtype, long x, long rows, long cols, long colMul,
            long q, long scales, long bad);
    public static native int qft_quantize_cols_absmax(int device, int xDtype, long x, long rows, long cols, long qt, long scales, long bad);
    public static native int qft_transpose_i8(int device, long x, long rows, long cols, long xt);
}
