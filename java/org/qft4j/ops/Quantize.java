package org.qft4j.ops;

import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.QuantNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/** Quantize-on-the-fly helpers of the INT8 linear layer. */
public final class Quantize {
    private Quantize() {}

    /** INT8 codes and their per-row scales: {@code x[r,c] ~= codes[r,c] * scales[r]}. The caller owns both. */
    public static final class Rows implements AutoCloseable {
        public final Tensor codes;
        public final Tensor scales;

        Rows(Tensor codes, Tensor scales) {
            this.codes = codes;
            this.scales = scales;
        }

        @Override
        public void close() {
            try (Tensor c = codes; Tensor s = scales) {
                // both closed, in reverse order
            }
        }
    }

    /**
     * Per-row symmetric absmax quantization (LLM.int8(), arXiv 2208.07339): {@code scale[r] = max|x[r,:]| / 127},
     * codes rounded half to even. x: (rows, cols) F32 on any device; results on the same device.
     *
     * @throws org.qft4j.Qft4jException if x holds NaN/Inf (the message counts the bad rows)
     */
    public static Rows rowsAbsmax(Tensor x) {
        x.requireDType(DType.F32, "Quantize.rowsAbsmax(x)");
        if (x.rank() != 2) throw new IllegalArgumentException("Quantize.rowsAbsmax: x must be (rows, cols), got " + x);
        Natives.load(QuantNative.class);
        long rows = x.dim(0), cols = x.dim(1);
        Tensor codes = Tensor.empty(x.device(), DType.I8, rows, cols);
        Tensor scales = Tensor.empty(x.device(), DType.F32, rows);
        Rows out = new Rows(codes, scales);
        try {
            NativeStatus.check(QuantNative.qft_quantize_rows_absmax(x.device().nativeId(), x.address(), rows, cols,
                    codes.address(), scales.address()), "Quantize.rowsAbsmax(" + x + ")");
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }
}
