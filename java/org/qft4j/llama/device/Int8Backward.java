package org.qft4j.llama.device;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.MatmulNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * The backward matmuls of QFT's linear layers y = x Wᵀ on the INT8 GEMM ({@code native/include/qft4j/int8_matmul.h},
 * whose header lays out the operands), with the scratch they need, owned here and shared by every layer of a model
 * that runs them one after another (one thread):
 * <pre>
 *   dX = dY W   : A = rows of (dY * sW) (n, out) quantized per token: W's row scales sW vary along the reduction, so
 *                 they are folded into dY first; B = Wᵀ's codes (in, out) by an INT8 transpose; then the fp32 outliers
 *                 add dY Sᵀ through qft_hybrid_sparse_add over Sᵀ (qft_hybrid_sparse_transpose), or, with
 *                 {@link OutlierProducts#INT8}, as a second INT8 GEMM: rows of (dY * sO) quantized per token against
 *                 the transposed INT8 image of S (qft_hybrid_outlier_codes), sO its row scales.
 *   dW = dYᵀ X  : A = dY quantized per column, transposed (out, n); B = X the same (in, n); K = n tokens.
 * </pre>
 * This is the step from QFT's fp32 backward to INT8 kernels "in all three matmuls where accuracy allows" (issue 10).
 * SwitchBack (Wortsman et al. 2023, arXiv 2304.13013) runs the forward and dX matmuls in INT8 with row-wise
 * quantization and keeps dW in 16 bits, because dW reduces over every token of the batch;
 * {@link BackwardMatmuls#INT8_INPUT} is that split, {@link BackwardMatmuls#INT8} quantizes dW too (QFT then stores
 * dW in INT8 anyway, with stochastic rounding).
 *
 * <p>Accuracy does not allow it for the classifier, whose backward {@link DeviceLlama} keeps in fp32: its dY is
 * dlogits = softmax - onehot, one value near -1 per token and V - 1 probabilities near 1/V, which an absmax INT8 code
 * step of 1/127 rounds to zero. Measured on stories260K (bench/results/int8-backward-cpu.md): with the classifier in
 * INT8 too, held-out perplexity after fine-tuning rose 0.5-1.2%; with the blocks alone in INT8 it did not move.
 *
 * <p>Non-finite dY or X: their vectors get NaN scales and zero codes, so NaN reaches dX / dW as it would in fp32 and
 * the optimizer's non-finite rule skips the step. The quantizers count such vectors into a device counter instead of
 * waiting for the GPU to report them: a backward with INT8 matmuls makes no host sync.
 */
public final class Int8Backward implements AutoCloseable {
    /** Which backward matmuls of the hybrid INT8 linear layers run on the INT8 GEMM; the rest run in fp32. */
    public enum BackwardMatmuls {
        /** Both in fp32: dX against the dequantized weight, dW = dYᵀ X. */
        FP32,
        /** dX = dY W on the INT8 GEMM (SwitchBack's split), dW in fp32. */
        INT8_INPUT,
        /** dX and dW on the INT8 GEMM. */
        INT8;

        /** The command-line label: fp32, int8-input or int8. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        public static BackwardMatmuls parse(String s) {
            for (BackwardMatmuls m : values()) if (m.label().equals(s)) return m;
            throw new IllegalArgumentException("backward matmuls: fp32, int8-input or int8, got '" + s + "'");
        }
    }

    private final Device device;
    private final int maxTokens;
    private final long maxOut, maxIn, maxMatrix;
    private final Tensor aCodes;    // I8, n * max(out): dY's codes, (n, out) for dX or (out, n) transposed for dW
    private final Tensor aScales;   // F32, max(n, out): their per-token (dX) or per-output (dW) scales
    private final Tensor bCodes;    // I8, max(out * in, max(in) * n): Wᵀ (in, out) for dX, Xᵀ (in, n) for dW
    private final Tensor bScales;   // F32, max(in, out): X's per-input scales (dW), the outlier image's row scales (dX)
    private final Tensor tPtr;      // I32, max(in) + 1: Sᵀ's row pointers (one row per input feature)
    private final Tensor tIdx;      // I32, max(nnz): Sᵀ's column indices (output rows of W)
    private final Tensor tValues;   // F32, max(nnz): Sᵀ's values
    private final Tensor nonFinite; // I32, 1: vectors with NaN/Inf the quantizers met (a device counter, never zeroed)
    private final Tensor corrupt;   // I32, 1: weights whose outlier CSR was corrupt (the same)
    private boolean closed;

    /**
     * Scratch for up to maxTokens tokens and weights of at most maxOut rows, maxIn columns, maxMatrix elements and maxNnz
     * outliers.
     */
    public Int8Backward(Device device, int maxTokens, long maxOut, long maxIn, long maxMatrix, long maxNnz) {
        if (maxTokens <= 0 || maxOut <= 0 || maxIn <= 0 || maxMatrix <= 0 || maxNnz < 0)
            throw new IllegalArgumentException("Int8Backward: need positive sizes, got maxTokens " + maxTokens + ", weights up to ("
                    + maxOut + ", " + maxIn + "), " + maxMatrix + " elements, " + maxNnz + " outliers");
        Natives.load(MatmulNative.class);
        Natives.load(QftNative.class);
        this.device = device;
        this.maxTokens = maxTokens;
        this.maxOut = maxOut;
        this.maxIn = maxIn;
        this.maxMatrix = maxMatrix;
        Tensor[] t = new Tensor[9];
        try {
            t[0] = Tensor.empty(device, DType.I8, maxTokens * maxOut);
            t[1] = Tensor.empty(device, DType.F32, Math.max(maxTokens, maxOut));
            t[2] = Tensor.empty(device, DType.I8, Math.max(maxMatrix, maxIn * maxTokens));
            t[3] = Tensor.empty(device, DType.F32, Math.max(maxIn, maxOut));
            t[4] = Tensor.empty(device, DType.I32, maxIn + 1);
            t[5] = Tensor.empty(device, DType.I32, Math.max(1, maxNnz));
            t[6] = Tensor.empty(device, DType.F32, Math.max(1, maxNnz));
            t[7] = Tensor.zeros(device, DType.I32, 1);
            t[8] = Tensor.zeros(device, DType.I32, 1);
        } catch (RuntimeException | Error e) {
            for (Tensor x : t) if (x != null) x.close();
            throw e;
        }
        aCodes = t[0];
        aScales = t[1];
        bCodes = t[2];
        bScales = t[3];
        tPtr = t[4];
        tIdx = t[5];
        tValues = t[6];
        nonFinite = t[7];
        corrupt = t[8];
    }

    /** dx (n, in) (+)= dy (n, out) · W for the hybrid weight w (out, in): dense part on the INT8 GEMM, outliers as {@code outliers} says. */
    public void input(HybridWeight w, Tensor dy, int n, Tensor dx, boolean accumulate, OutlierProducts outliers) {
        String op = "Int8Backward.input";
        long out = w.rows(), in = w.cols();
        if (closed) throw new IllegalStateException(op + ": use after close");
        if (!w.device().equals(device)) throw new IllegalArgumentException(op + ": " + w + " is not on " + device);
        if (n < 0 || n > maxTokens || out > maxOut || in > maxIn || out * in > maxMatrix)
            throw new IllegalArgumentException(op + ": " + w + " over " + n + " tokens exceeds the scratch's (" + maxOut + ", " + maxIn
                    + ") over " + maxTokens);
        need(op, "dy", dy, n * out);
        need(op, "dx", dx, n * in);
        int dev = device.nativeId();
        String what = " of dy (" + n + ", " + out + ") · " + w;
        NativeStatus.check(MatmulNative.qft_quantize_rows_absmax_ex(dev, 0, dy.address(), n, out, w.scales().address(), aCodes.address(),
                aScales.address(), nonFinite.address()), op + ": quantizing dy * sW" + what);
        NativeStatus.check(MatmulNative.qft_transpose_i8(dev, w.codes().address(), out, in, bCodes.address()), op + ": transposing W" + what);
        NativeStatus.check(MatmulNative.qft_int8_matmul(dev, 0, aCodes.address(), aScales.address(), bCodes.address(), 0L, 0L, dx.address(),
                0, accumulate ? 1 : 0, n, in, out), op + ": INT8 GEMM" + what);
        if (outliers == OutlierProducts.INT8) {  // the scratch is reused in stream order, after the dense GEMM read it
            w.outlierCodes(0, (int) out, true, bCodes, bScales);
            NativeStatus.check(MatmulNative.qft_quantize_rows_absmax_ex(dev, 0, dy.address(), n, out, bScales.address(), aCodes.address(),
                    aScales.address(), nonFinite.address()), op + ": quantizing dy * sO" + what);
            NativeStatus.check(MatmulNative.qft_int8_matmul(dev, 0, aCodes.address(), aScales.address(), bCodes.address(), 0L, 0L,
                    dx.address(), 0, 1, n, in, out), op + ": INT8 GEMM of the outliers" + what);
            return;
        }
        w.transposeOutliers(0, (int) out, tPtr, tIdx, tValues, corrupt);
        NativeStatus.check(QftNative.qft_hybrid_sparse_add(dev, in, out, tPtr.address(), tIdx.address(), tValues.address(), dy.address(), n,
                dx.address()), op + ": outliers" + what);
    }

    /** dw (out, in) (+)= dyᵀ (n, out) · x (n, in), both quantized per column over the n tokens. */
    public void weight(Tensor dy, Tensor x, int n, Tensor dw, boolean accumulate) {
        String op = "Int8Backward.weight";
        if (closed) throw new IllegalStateException(op + ": use after close");
        if (dw.rank() != 2) throw new IllegalArgumentException(op + ": dw must be (out, in), got " + dw);
        long out = dw.dim(0), in = dw.dim(1);
        if (n < 0 || n > maxTokens || out > maxOut || in > maxIn)
            throw new IllegalArgumentException(op + ": dw (" + out + ", " + in + ") over " + n + " tokens exceeds the scratch's ("
                    + maxOut + ", " + maxIn + ") over " + maxTokens);
        need(op, "dy", dy, n * out);
        need(op, "x", x, n * in);
        need(op, "dw", dw, out * in);
        int dev = device.nativeId();
        String what = " for dw (" + out + ", " + in + ") over " + n + " tokens";
        NativeStatus.check(MatmulNative.qft_quantize_cols_absmax(dev, 0, dy.address(), n, out, aCodes.address(), aScales.address(),
                nonFinite.address()), op + ": quantizing dy's columns" + what);
        NativeStatus.check(MatmulNative.qft_quantize_cols_absmax(dev, 0, x.address(), n, in, bCodes.address(), bScales.address(),
                nonFinite.address()), op + ": quantizing x's columns" + what);
        NativeStatus.check(MatmulNative.qft_int8_matmul(dev, 0, aCodes.address(), aScales.address(), bCodes.address(), bScales.address(),
                0L, dw.address(), 0, accumulate ? 1 : 0, out, in, n), op + ": INT8 GEMM" + what);
    }

    /** Vectors holding NaN/Inf met so far (reads the device counter: a host sync on a GPU). */
    public long nonFiniteVectors() {
        return nonFinite.toInts()[0];
    }

    /**
     * Weights whose outlier CSR was corrupt (a column out of range, a decreasing row pointer) so far; their dx misses
     * outliers. Reads the device counter: a host sync on a GPU. A weight made by HybridWeight is never corrupt.
     */
    public long corruptOutlierSets() {
        return corrupt.toInts()[0];
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try (Tensor a = aCodes; Tensor b = aScales; Tensor c = bCodes; Tensor d = bScales; Tensor e = tPtr; Tensor f = tIdx;
             Tensor g = tValues; Tensor h = nonFinite; Tensor i = corrupt) {
            // all closed, in reverse order
        }
    }

    private void need(String op, String name, Tensor t, long elements) {
        if (t.dtype() != DType.F32 || !t.device().equals(device) || t.numel() < elements)
            throw new IllegalArgumentException(op + ": " + name + " must be a F32 tensor on " + device + " with at least " + elements
                    + " elements, got " + t);
    }
}
