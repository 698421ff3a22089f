package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the quantization ops ({@code native/include/qft4j/quantize_*.h}).
 * Addresses are (device, int64) pairs from {@link CoreNative#qft_alloc}.
 */
@Platform(include = "qft4j/quantize_rows.h", link = "qft4j")
public final class QuantNative {
    private QuantNative() {}

    public static native int qft_quantize_rows_absmax(int device, long x, long rows, long cols, long q, long scales);
}
