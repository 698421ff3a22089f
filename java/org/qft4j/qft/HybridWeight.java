package org.qft4j.qft;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * A (rows, cols) weight in QFT's hybrid format ({@code native/include/qft4j/hybrid_weight.h}): INT8 codes with
 * per-row absmax scales computed without the outliers, plus the outliers in fp32 CSR. No fp32 master copy exists;
 * {@link QuantLion} updates this storage in place. Owns its native memory: close it.
 */
public final class HybridWeight implements AutoCloseable {
    private final int rows, cols;
    private final HybridConfig config;
    private final long nnz;
    private final Tensor codes;  // (rows, cols) I8, 0 at outlier positions
    private final Tensor scales; // (rows) F32
    private final Tensor rowPtr; // (rows+1) I32
    private final Tensor colIdx; // (nnz) I32
    private final Tensor values; // (nnz) F32

    private HybridWeight(Device device, int rows, int cols, HybridConfig config) {
        Natives.load(QftNative.class);
        this.rows = rows;
        this.cols = cols;
        this.config = config;
        long[] n = new long[1];
        NativeStatus.check(QftNative.qft_hybrid_nnz(rows, cols, config.outlierFraction(), config.perRow() ? 1 : 0, n),
                "HybridWeight(" + rows + ", " + cols + ")");
        this.nnz = n[0];
        Tensor[] t = new Tensor[5];
        try {
            t[0] = Tensor.empty(device, DType.I8, rows, cols);
            t[1] = Tensor.empty(device, DType.F32, rows);
            t[2] = Tensor.empty(device, DType.I32, rows + 1L);
            t[3] = Tensor.empty(device, DType.I32, nnz);
            t[4] = Tensor.empty(device, DType.F32, nnz);
        } catch (RuntimeException e) {
            for (Tensor x : t) if (x != null) x.close();
            throw e;
        }
        codes = t[0];
        scales = t[1];
        rowPtr = t[2];
        colIdx = t[3];
        values = t[4];
    }

    /** Quantizes w: (rows, cols) F32 on any device; the result lives on w's device. */
    public static HybridWeight quantize(Tensor w, HybridConfig config) {
        w.requireDType(DType.F32, "HybridWeight.quantize(w)");
        if (w.rank() != 2) throw new IllegalArgumentException("HybridWeight.quantize: w must be (rows, cols), got " + w);
        HybridWeight h = new HybridWeight(w.device(), Math.toIntExact(w.dim(0)), Math.toIntExact(w.dim(1)), config);
        try {
            NativeStatus.check(QftNative.qft_hybrid_quantize(w.device().nativeId(), w.address(), h.rows, h.cols,
                    config.outlierFraction(), config.perRow() ? 1 : 0, h.codes.address(), h.scales.address(),
                    h.rowPtr.address(), h.colIdx.address(), h.values.address(), h.nnz), "HybridWeight.quantize(" + w + ")");
            return h;
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
    }

    /** Quantizes a row-major (rows, cols) Java array on the CPU. */
    public static HybridWeight quantize(float[] w, int rows, int cols, HybridConfig config) {
        try (Tensor t = Tensor.of(Device.CPU, w, rows, cols)) {
            return quantize(t, config);
        }
    }

    /** The fp32 weights, (rows, cols), on this weight's device; the caller owns the tensor. */
    public Tensor dequantize() {
        Tensor out = Tensor.empty(device(), DType.F32, rows, cols);
        try {
            NativeStatus.check(QftNative.qft_hybrid_dequantize(device().nativeId(), rows, cols, codes.address(),
                    scales.address(), rowPtr.address(), colIdx.address(), values.address(), out.address()),
                    "HybridWeight.dequantize(" + rows + ", " + cols + ")");
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Writes the fp32 weights into out[0 .. rows*cols) row-major: what a Java matmul reads. */
    public void dequantize(float[] out) {
        if (out.length < (long) rows * cols)
            throw new IllegalArgumentException("HybridWeight.dequantize: out holds " + out.length + " floats, need " + rows + "x" + cols);
        try (Tensor t = dequantize()) {
            NativeStatus.check(CoreNative.qft_copy_to_host(device().nativeId(), out, t.address(), t.byteSize()),
                    "HybridWeight.dequantize: reading " + t);
        }
    }

    /**
     * Selects the outliers of the current weights again (same fraction, so nothing is reallocated) and requantizes
     * the dense part to nearest. Costs a full selection: call it every N steps ({@link LionConfig#reselectEvery()}).
     */
    public void reselectOutliers() {
        NativeStatus.check(QftNative.qft_hybrid_reselect(device().nativeId(), rows, cols, config.outlierFraction(),
                config.perRow() ? 1 : 0, codes.address(), scales.address(), rowPtr.address(), colIdx.address(),
                values.address(), nnz), "HybridWeight.reselectOutliers(" + rows + ", " + cols + ")");
    }

    /**
     * The outliers of rows [r0, r0 + rows) transposed ({@code qft_hybrid_sparse_transpose}): Sᵀ as a (cols, rows) CSR,
     * entry rows relative to r0, each row's entries in increasing r, the same bits on every device. With it,
     * {@code qft_hybrid_sparse_add(dev, cols, rows, tPtr, tIdx, tValues, dy, n, dx)} adds dy (n, rows) · S[r0 : r0 + rows]
     * to dx (n, cols): the outlier part of the input gradient. Outputs on this weight's device: tPtr I32 with at least
     * cols+1 elements, tIdx I32 and tValues F32 with at least max(1, nnz()) (the range fills the first tPtr[cols]), so that
     * one set of buffers serves every range. A corrupt CSR is an error.
     */
    public void transposeOutliers(int r0, int rows, Tensor tPtr, Tensor tIdx, Tensor tValues) {
        transposeOutliers(r0, rows, tPtr, tIdx, tValues, null);
    }

    /**
     * As {@link #transposeOutliers(int, int, Tensor, Tensor, Tensor)}; with a counter bad (I32 on this device) a corrupt CSR
     * adds 1 to bad[0] instead of failing, and a GPU does the whole transpose without a host sync (the weight's nnz bounds
     * the range's, so nothing is read back): the form a training step's backward uses.
     */
    public void transposeOutliers(int r0, int rows, Tensor tPtr, Tensor tIdx, Tensor tValues, Tensor bad) {
        String op = "HybridWeight.transposeOutliers(" + r0 + ", " + rows + ") of " + this;
        if (r0 < 0 || rows < 0 || r0 > this.rows - rows)
            throw new IllegalArgumentException(op + ": rows [" + r0 + ", " + ((long) r0 + rows) + ") outside [0, " + this.rows + ")");
        long bound = Math.max(1, nnz);  // 0 would ask the native op to read the range's nnz back
        needOutput(op, "tPtr", tPtr, DType.I32, cols + 1L);
        needOutput(op, "tIdx", tIdx, DType.I32, bound);
        needOutput(op, "tValues", tValues, DType.F32, bound);
        if (bad != null) needOutput(op, "bad", bad, DType.I32, 1);
        NativeStatus.check(QftNative.qft_hybrid_sparse_transpose(device().nativeId(), rows, cols, rowPtr.address() + 4L * r0,
                colIdx.address(), values.address(), tPtr.address(), tIdx.address(), tValues.address(), bound,
                bad == null ? 0L : bad.address()), op);
    }

    /**
     * The outliers of rows [r0, r0 + rows) as INT8 codes on a dense grid with one absmax scale per row
     * ({@code qft_hybrid_outlier_codes}): an INT8 image of S for running the sparse half of a matmul on the INT8 GEMM.
     * codes I8 with at least rows*cols elements, (rows, cols) or, transposed, (cols, rows); scales F32 with at least rows.
     * A row holding a NaN/Inf outlier gets a NaN scale. The same bits on every device.
     */
    public void outlierCodes(int r0, int rows, boolean transpose, Tensor codes, Tensor scales) {
        String op = "HybridWeight.outlierCodes(" + r0 + ", " + rows + ") of " + this;
        if (r0 < 0 || rows < 0 || r0 > this.rows - rows)
            throw new IllegalArgumentException(op + ": rows [" + r0 + ", " + ((long) r0 + rows) + ") outside [0, " + this.rows + ")");
        needOutput(op, "codes", codes, DType.I8, (long) rows * cols);
        needOutput(op, "scales", scales, DType.F32, rows);
        NativeStatus.check(QftNative.qft_hybrid_outlier_codes(device().nativeId(), rows, cols, rowPtr.address() + 4L * r0, colIdx.address(),
                values.address(), transpose ? 1 : 0, codes.address(), scales.address()), op);
    }

    private void needOutput(String op, String name, Tensor t, DType dtype, long elements) {
        if (t.dtype() != dtype || !t.device().equals(device()) || t.numel() < elements)
            throw new IllegalArgumentException(op + ": " + name + " must be a " + dtype + " tensor on " + device() + " with at least "
                    + elements + " elements, got " + t);
    }

    /**
     * Overwrites all five arrays with saved values (a checkpoint): codes (rows*cols), scales (rows), rowPtr
     * (rows+1), colIdx (nnz), values (nnz). The outlier count is fixed by the shape and config, so a saved weight
     * of the same shape and config always fits; nothing is reallocated. Rejects a CSR whose row pointers are not
     * monotone from 0 to nnz or whose column indices are out of range, which the native kernels would trust.
     */
    public void restore(byte[] savedCodes, float[] savedScales, int[] savedRowPtr, int[] savedColIdx, float[] savedValues) {
        if (savedCodes.length != (long) rows * cols || savedScales.length != rows || savedRowPtr.length != rows + 1L
                || savedColIdx.length != nnz || savedValues.length != nnz)
            throw new IllegalArgumentException("HybridWeight.restore: got " + savedCodes.length + " codes, " + savedScales.length
                    + " scales, " + savedRowPtr.length + " row pointers, " + savedColIdx.length + " column indices, "
                    + savedValues.length + " values for " + this);
        if (savedRowPtr[0] != 0 || savedRowPtr[rows] != nnz)
            throw new IllegalArgumentException("HybridWeight.restore: row pointers run from " + savedRowPtr[0] + " to " + savedRowPtr[rows] + ", need 0 to " + nnz);
        for (int r = 0; r < rows; r++)
            if (savedRowPtr[r + 1] < savedRowPtr[r])
                throw new IllegalArgumentException("HybridWeight.restore: row pointers decrease at row " + r);
        for (int c : savedColIdx)
            if (c < 0 || c >= cols) throw new IllegalArgumentException("HybridWeight.restore: column index " + c + " outside [0, " + cols + ")");
        int dev = device().nativeId();
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, codes.address(), savedCodes, codes.byteSize()), "HybridWeight.restore: codes");
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, scales.address(), savedScales, scales.byteSize()), "HybridWeight.restore: scales");
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, rowPtr.address(), savedRowPtr, rowPtr.byteSize()), "HybridWeight.restore: row pointers");
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, colIdx.address(), savedColIdx, colIdx.byteSize()), "HybridWeight.restore: column indices");
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, values.address(), savedValues, values.byteSize()), "HybridWeight.restore: values");
    }

    public int rows() { return rows; }
    public int cols() { return cols; }
    public long nnz() { return nnz; }
    public HybridConfig config() { return config; }
    public Device device() { return codes.device(); }
    public Tensor codes() { return codes; }
    public Tensor scales() { return scales; }
    public Tensor rowPtr() { return rowPtr; }
    public Tensor colIdx() { return colIdx; }
    public Tensor values() { return values; }

    /** Bytes of the INT8 dense codes. */
    public long denseBytes() { return codes.byteSize(); }
    /** Bytes of the sparse part: row pointers, column indices and fp32 values. */
    public long outlierBytes() { return rowPtr.byteSize() + colIdx.byteSize() + values.byteSize(); }
    /** Bytes of the per-row scales. */
    public long scaleBytes() { return scales.byteSize(); }
    /** All bytes held. */
    public long bytes() { return denseBytes() + outlierBytes() + scaleBytes(); }

    @Override
    public void close() {
        try (Tensor a = codes; Tensor b = scales; Tensor c = rowPtr; Tensor d = colIdx; Tensor e = values) {
            // closed in reverse order; Tensor.close is idempotent
        }
    }

    @Override
    public String toString() {
        return "HybridWeight(" + rows + ", " + cols + ", " + nnz + " outliers) on " + device();
    }
}
