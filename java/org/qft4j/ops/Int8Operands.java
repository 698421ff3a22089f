package org.qft4j.ops;

import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.MatmulNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * Operand preparation for {@link Int8Matmul} ({@code native/include/qft4j/quantize_operands.h}). With a
 * linear layer y = x Wᵀ, W: (out, in) INT8 codes with per-row scales sW, all three matmuls run on the TN kernel:
 * <ul>
 *   <li>Y = X Wᵀ: A = {@code rows(X)}, B = W, colScale = sW;</li>
 *   <li>dX = dY W: A = {@code rows(dY, sW)} (sW varies along the reduction, so it is folded into dY),
 *       B = {@code transpose(W)}, colScale = null;</li>
 *   <li>dW = dYᵀ X: A = {@code colsTransposed(dY)}, B = {@code colsTransposed(X)}, K = tokens.</li>
 * </ul>
 * Inputs are F32 or BF16 (rows, cols) on any device; results land on the same device and belong to the caller.
 */
public final class Int8Operands {
    private Int8Operands() {}

    /** Per-row absmax codes of {@code x[r,c] * colMul[c]} (colMul: (cols) F32, or null): (rows, cols) I8 + (rows) scales. */
    public static Quantize.Rows rows(Tensor x, Tensor colMul) {
        String op = "Int8Operands.rows";
        int dtype = inputDType(op, x);
        Int8Matmul.requireVector(op, "colMul", colMul, x.dim(1), x.device());
        Natives.load(MatmulNative.class);
        long rows = x.dim(0), cols = x.dim(1);
        Quantize.Rows out = new Quantize.Rows(Tensor.empty(x.device(), DType.I8, rows, cols), Tensor.empty(x.device(), DType.F32, rows));
        try {
            NativeStatus.check(MatmulNative.qft_quantize_rows_absmax_ex(x.device().nativeId(), dtype, x.address(), rows, cols,
                    Int8Matmul.addressOf(colMul), out.codes.address(), out.scales.address(), 0L), op + "(" + x + ")");
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Per-column absmax codes written transposed: (cols, rows) I8 codes and (cols) scales, {@code x[r,c] ~= codes[c,r] * scales[c]}. */
    public static Quantize.Rows colsTransposed(Tensor x) {
        String op = "Int8Operands.colsTransposed";
        int dtype = inputDType(op, x);
        Natives.load(MatmulNative.class);
        long rows = x.dim(0), cols = x.dim(1);
        Quantize.Rows out = new Quantize.Rows(Tensor.empty(x.device(), DType.I8, cols, rows), Tensor.empty(x.device(), DType.F32, cols));
        try {
            NativeStatus.check(MatmulNative.qft_quantize_cols_absmax(x.device().nativeId(), dtype, x.address(), rows, cols,
                    out.codes.address(), out.scales.address(), 0L), op + "(" + x + ")");
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** A new (cols, rows) I8 tensor holding the transpose of x: (rows, cols) I8. */
    public static Tensor transpose(Tensor x) {
        x.requireDType(DType.I8, "Int8Operands.transpose");
        if (x.rank() != 2) throw new IllegalArgumentException("Int8Operands.transpose: x must be (rows, cols), got " + x);
        Natives.load(MatmulNative.class);
        Tensor t = Tensor.empty(x.device(), DType.I8, x.dim(1), x.dim(0));
        try {
            NativeStatus.check(MatmulNative.qft_transpose_i8(x.device().nativeId(), x.address(), x.dim(0), x.dim(1), t.address()),
                    "Int8Operands.transpose(" + x + ")");
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static int inputDType(String op, Tensor x) {
        if (x.rank() != 2) throw new IllegalArgumentException(op + ": x must be (rows, cols), got " + x);
        if (x.dtype() == DType.F32) return 0;
        if (x.dtype() == DType.BF16) return 1;
        throw new IllegalArgumentException(op + ": x must be F32 or BF16, got " + x);
    }
}
