package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code native/include/qft4j/peqa.h}: packed 3/4-bit PEQA weights, RTN initialisation,
 * the dequantize-in-the-matmul forward, the input gradient and the scale gradient. Addresses are
 * (device, int64) pairs from {@link CoreNative#qft_alloc}; load through {@link org.qft4j.Natives}.
 */
@Platform(include = "qft4j/peqa.h", link = "qft4j")
public final class PeqaNative {
    private PeqaNative() {}

    public static native @Cast("int64_t") long qft_peqa_words_per_row(int bits, long cols);

    public static native int qft_peqa_quantize_rtn(int device, long w, long rows, long cols, int bits, long groupSize,
            long codes, long scales, long zeros);

    public static native int qft_peqa_dequantize(int device, long codes, long scales, long zeros, long rows, long cols,
            int bits, long groupSize, long w);

    public static native int qft_peqa_matmul(int device, long x, long tokens, long codes, long scales, long zeros,
            long rows, long cols, int bits, long groupSize, long y);

    public static native int qft_peqa_matmul_backward_input(int device, long dy, long tokens, long codes, long scales,
            long zeros, long rows, long cols, int bits, long groupSize, long dx);

    public static native int qft_peqa_scale_grad(int device, long dy, long x, long tokens, long codes, long zeros,
            long rows, long cols, int bits, long groupSize, long dscales);

    public static native int qft_peqa_cpu_reference(int on);
}
