package org.qft4j.llama.device;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.EngineNative;
import org.qft4j.nativ.MatmulNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * QFT's INT8 linear layer y = x Wᵀ for a hybrid weight W = D + S (INT8 dense codes with per-row scales plus fp32
 * outliers; QFT, arXiv 2310.07147, sec. 3): the activations are quantized per token (absmax, LLM.int8() vector-wise,
 * arXiv 2208.07339), the dense part runs as an INT8 GEMM with int32 accumulation scaled by both scale vectors, and
 * the outliers add their fp32 product with the unquantized activations:
 * <pre>  y[t, r] = sx[t] * sw[r] * sum_c qx[t, c] * D[r, c]  +  sum_{(r, c) in S} S[r, c] * x[t, c]</pre>
 * or, with {@link OutlierProducts#INT8} set on the workspace, the outliers' product as a second INT8 GEMM of the same
 * activation codes against an INT8 image of S ({@link HybridWeight#outlierCodes}): sx[t] * so[r] * sum_c qx[t, c] * O[r, c].
 * The input gradient dx = dy W uses the dequantized weight (an fp32 scratch of one matrix); the weight gradient is the
 * fp32 dyᵀ x of {@link DeviceOps#linearBackwardWeight}, which QFT's optimizer turns into an INT8 gradient.
 *
 * <p>The quantized activations live in a {@link Workspace}: its own (closed by {@link #close()}), or one shared by
 * many layers (owned by the caller); the weight belongs to the caller.
 *
 * <p>A row of x holding NaN/Inf gets a NaN scale and zero codes, so its outputs are NaN, as an fp32 layer's would be: a
 * training step then meets a non-finite loss and skips. The workspace counts such rows on the device
 * ({@link Workspace#nonFiniteRows}) instead of reporting them at once, which would cost a host sync per layer.
 */
public final class QftLinear implements AutoCloseable {
    /**
     * Scratch for the quantized activations of up to maxTokens rows of up to maxIn columns. forward uses it only during
     * the call, so one workspace serves every layer of a model that runs them one after another (one thread).
     */
    public static final class Workspace implements AutoCloseable {
        final int maxTokens, maxIn;
        final Tensor xq;     // (maxTokens * maxIn) I8: activation codes, (n, in) row-major for a call with n rows
        final Tensor xScale; // (maxTokens) F32: per-token scales
        final Tensor nonFinite; // (1) I32: rows with NaN/Inf quantized so far (a device counter, never reset)
        private OutlierProducts outliers = OutlierProducts.FP32_SPARSE;
        private Tensor outlierCodes;  // I8: the INT8 image of a weight's outliers (OutlierProducts.INT8), grown on demand
        private Tensor outlierScales; // F32: its row scales

        public Workspace(Device device, int maxTokens, int maxIn) {
            if (maxTokens <= 0 || maxIn <= 0)
                throw new IllegalArgumentException("QftLinear.Workspace: maxTokens and maxIn must be positive, got " + maxTokens + ", " + maxIn);
            this.maxTokens = maxTokens;
            this.maxIn = maxIn;
            Tensor[] t = new Tensor[3];
            try {
                t[0] = Tensor.empty(device, DType.I8, (long) maxTokens * maxIn);
                t[1] = Tensor.empty(device, DType.F32, maxTokens);
                t[2] = Tensor.zeros(device, DType.I32, 1);
            } catch (RuntimeException | Error e) {
                for (Tensor x : t) if (x != null) x.close();
                throw e;
            }
            this.xq = t[0];
            this.xScale = t[1];
            this.nonFinite = t[2];
        }

        /** How the layers on this workspace multiply their outliers in forward; FP32_SPARSE until set. */
        public void outliers(OutlierProducts mode) {
            outliers = java.util.Objects.requireNonNull(mode, "mode");
        }

        public OutlierProducts outliers() { return outliers; }

        /** The outlier image scratch, grown to at least (rows, cols): the old one is freed in stream order. */
        void ensureOutlierScratch(long rows, long cols) {
            if (outlierCodes == null || outlierCodes.numel() < rows * cols) {
                if (outlierCodes != null) outlierCodes.close();
                outlierCodes = null;
                outlierCodes = Tensor.empty(xq.device(), DType.I8, rows * cols);
            }
            if (outlierScales == null || outlierScales.numel() < rows) {
                if (outlierScales != null) outlierScales.close();
                outlierScales = null;
                outlierScales = Tensor.empty(xq.device(), DType.F32, rows);
            }
        }

        /** Rows holding NaN/Inf that layers on this workspace have quantized so far (reads the device: a host sync on a GPU). */
        public long nonFiniteRows() {
            return nonFinite.toInts()[0];
        }

        @Override
        public void close() {
            try (Tensor a = xq; Tensor b = xScale; Tensor c = nonFinite; Tensor d = outlierCodes; Tensor e = outlierScales) {
                // all closed, in reverse order
            }
        }
    }

    private final HybridWeight w;
    private final Workspace ws;
    private final boolean ownsWorkspace;

    /** With its own workspace for up to maxTokens rows. */
    public QftLinear(HybridWeight weight, int maxTokens) {
        this(weight, new Workspace(weight.device(), maxTokens, weight.cols()), true);
    }

    /** With a workspace shared with other layers (not closed by this layer); it must hold the weight's input width. */
    public QftLinear(HybridWeight weight, Workspace shared) {
        this(weight, shared, false);
    }

    private QftLinear(HybridWeight weight, Workspace ws, boolean owns) {
        if (ws.maxIn < weight.cols() || !ws.xq.device().equals(weight.device()))
            throw new IllegalArgumentException("QftLinear: a workspace of width " + ws.maxIn + " on " + ws.xq.device() + " cannot serve " + weight);
        Natives.load(EngineNative.class);
        Natives.load(MatmulNative.class);
        Natives.load(QftNative.class);
        this.w = weight;
        this.ws = ws;
        this.ownsWorkspace = owns;
    }

    public HybridWeight weight() { return w; }

    /** y (n, out) = x (n, in) · Wᵀ (overwrites y); a NaN/Inf row of x gives a NaN row of y (see the class comment). */
    public void forward(Tensor x, int n, Tensor y) {
        String op = "QftLinear.forward";
        need(op, "y", y, (long) n * w.rows(), w.device());
        quantizeInput(x, n);
        forwardRows(x, n, 0, w.rows(), y.address());
    }

    /**
     * dx (n, in) (+)= dy (n, out) · W with W dequantized into scratch (at least out*in F32 elements, e.g. one buffer
     * shared by every layer).
     */
    public void backwardInput(Tensor dy, int n, Tensor dx, boolean accumulate, Tensor scratch, Fp32Math math) {
        need("QftLinear.backwardInput", "dy", dy, (long) n * w.rows(), w.device());
        backwardInputRows(dy.address(), n, 0, w.rows(), dx, accumulate, scratch, math);
    }

    /** Quantizes x (n, in) per token into the workspace, for the {@link #forwardRows} calls that follow. */
    void quantizeInput(Tensor x, int n) {
        String op = "QftLinear.forward";
        checkTokens(op, n);
        need(op, "x", x, (long) n * w.cols(), w.device());
        NativeStatus.check(MatmulNative.qft_quantize_rows_absmax_ex(w.device().nativeId(), 0, x.address(), n, w.cols(), 0L, ws.xq.address(),
                ws.xScale.address(), ws.nonFinite.address()), op + ": quantizing x (" + n + ", " + w.cols() + ")");
    }

    /**
     * y (n, rows) = x · W[r0 : r0 + rows]ᵀ, y packed with row stride rows (the caller's buffer of at least n*rows F32), from
     * the x of the last {@link #quantizeInput} (its INT8 codes for the dense part, x itself for the outliers).
     */
    void forwardRows(Tensor x, int n, int r0, int rows, long y) {
        String op = "QftLinear.forward";
        checkRows(op, n, r0, rows);
        int dev = w.device().nativeId();
        long in = w.cols();
        NativeStatus.check(MatmulNative.qft_int8_matmul(dev, 0, ws.xq.address(), ws.xScale.address(), w.codes().address() + r0 * in,
                w.scales().address() + 4L * r0, 0L, y, 0, 0, n, rows, in), op + ": INT8 GEMM (" + n + ", " + in + ") x rows [" + r0 + ", "
                + (r0 + rows) + ") of " + w);
        String outliers = op + ": outliers of rows [" + r0 + ", " + (r0 + rows) + ") of " + w;
        if (ws.outliers == OutlierProducts.INT8) {
            ws.ensureOutlierScratch(rows, in);
            w.outlierCodes(r0, rows, false, ws.outlierCodes, ws.outlierScales);
            NativeStatus.check(MatmulNative.qft_int8_matmul(dev, 0, ws.xq.address(), ws.xScale.address(), ws.outlierCodes.address(),
                    ws.outlierScales.address(), 0L, y, 0, 1, n, rows, in), outliers);
        } else {
            NativeStatus.check(QftNative.qft_hybrid_sparse_add(dev, rows, in, w.rowPtr().address() + 4L * r0, w.colIdx().address(),
                    w.values().address(), x.address(), n, y), outliers);
        }
    }

    /** dx (n, in) (+)= dy (n, rows) · W[r0 : r0 + rows], dy packed with row stride rows, W's rows dequantized into scratch. */
    void backwardInputRows(long dy, int n, int r0, int rows, Tensor dx, boolean accumulate, Tensor scratch, Fp32Math math) {
        String op = "QftLinear.backwardInput";
        checkRows(op, n, r0, rows);
        Device d = w.device();
        long in = w.cols();
        need(op, "dx", dx, n * in, d);
        need(op, "scratch", scratch, rows * in, d);
        int dev = d.nativeId();
        NativeStatus.check(QftNative.qft_hybrid_dequantize(dev, rows, in, w.codes().address() + r0 * in, w.scales().address() + 4L * r0,
                w.rowPtr().address() + 4L * r0, w.colIdx().address(), w.values().address(), scratch.address()), op + ": dequantizing rows ["
                + r0 + ", " + (r0 + rows) + ") of " + w);
        NativeStatus.check(EngineNative.qft_matmul_f32_nn(dev, dy, scratch.address(), n, rows, in, dx.address(), accumulate ? 1 : 0,
                math.code()),
                op + ": dy (" + n + ", " + rows + ") · W rows [" + r0 + ", " + (r0 + rows) + ") of (" + w.rows() + ", " + in + ")");
    }

    @Override
    public void close() {
        if (ownsWorkspace) ws.close();
    }

    private void checkRows(String op, int n, int r0, int rows) {
        checkTokens(op, n);
        if (r0 < 0 || rows < 0 || r0 + rows > w.rows())
            throw new IllegalArgumentException(op + ": rows [" + r0 + ", " + (r0 + rows) + ") are outside the " + w.rows() + " of " + w);
    }

    private void checkTokens(String op, int n) {
        if (ws.xq.isClosed()) throw new IllegalStateException(op + ": use after close (of this layer or of its shared workspace)");
        if (n < 0 || n > ws.maxTokens) throw new IllegalArgumentException(op + ": " + n + " tokens exceed the capacity " + ws.maxTokens);
    }

    private static void need(String op, String name, Tensor t, long elements, Device device) {
        if (t.dtype() != DType.F32 || !t.device().equals(device) || t.numel() < elements)
            throw new IllegalArgumentException(op + ": " + name + " must be a F32 tensor on " + device + " with at least " + elements
                    + " elements, got " + t);
    }
}
