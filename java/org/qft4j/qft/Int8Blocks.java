package org.qft4j.qft;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * A (rows, cols) tensor in QFT's uniform symmetric INT8 format ({@code native/include/qft4j/int8_blocks.h}):
 * int8 codes and one fp32 absmax scale per block of {@code block} consecutive elements of a row
 * ({@code block >= cols}: one scale per row). Holds gradients (round to nearest) and Lion momentum (the optimizer
 * requantizes it keeping every nonzero sign). Owns its native memory: close it.
 */
public final class Int8Blocks implements AutoCloseable {
    /**
     * Default block size. Measured on a heavy-tailed Student-t(3) 1024x4096 matrix (QuantizerQualityTest.int8BlockSizes):
     * relative L2 error 32: 0.85%, 64: 1.09%, 128: 1.39%, 256: 1.75%, 1024: 2.78%, per row (4096): 4.38%, at
     * 1.125 / 1.0625 / 1.031 / 1.0156 / 1.0039 / 1.0010 bytes per parameter. 256 keeps 2.5x less error than per-row
     * scales for 0.015 bytes/param, and one block is one 256-thread CUDA block. Per-row scales: pass block >= cols.
     */
    public static final int DEFAULT_BLOCK = 256;

    private final int rows, cols, block;
    private final Tensor codes;  // (rows, cols) I8
    private final Tensor scales; // (rows, ceil(cols / block)) F32

    private Int8Blocks(Device device, int rows, int cols, int block, boolean zero) {
        if (rows < 0 || cols < 0 || block < 1)
            throw new IllegalArgumentException("Int8Blocks: bad shape (" + rows + ", " + cols + ") or block " + block);
        Natives.load(QftNative.class);
        this.rows = rows;
        this.cols = cols;
        this.block = block;
        long nb = ((long) cols + block - 1) / block;
        Tensor c = zero ? Tensor.zeros(device, DType.I8, rows, cols) : Tensor.empty(device, DType.I8, rows, cols);
        try {
            this.scales = zero ? Tensor.zeros(device, DType.F32, rows, nb) : Tensor.empty(device, DType.F32, rows, nb);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        this.codes = c;
    }

    /** All-zero blocks (a fresh momentum or gradient buffer) on a device. */
    public static Int8Blocks zeros(Device device, int rows, int cols, int block) {
        return new Int8Blocks(device, rows, cols, block, true);
    }

    /** Quantizes x: (rows, cols) F32 on any device; preserveSign keeps every nonzero value nonzero. */
    public static Int8Blocks quantize(Tensor x, int block, boolean preserveSign) {
        x.requireDType(DType.F32, "Int8Blocks.quantize(x)");
        if (x.rank() != 2) throw new IllegalArgumentException("Int8Blocks.quantize: x must be (rows, cols), got " + x);
        Int8Blocks q = new Int8Blocks(x.device(), Math.toIntExact(x.dim(0)), Math.toIntExact(x.dim(1)), block, false);
        try {
            q.quantizeFrom(x, preserveSign);
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    /** Quantizes a row-major (rows, cols) Java array on the CPU. */
    public static Int8Blocks quantize(float[] x, int rows, int cols, int block, boolean preserveSign) {
        try (Tensor t = Tensor.of(Device.CPU, x, rows, cols)) {
            return quantize(t, block, preserveSign);
        }
    }

    /**
     * Requantizes this buffer in place from x: (rows, cols) F32 on this device (the per-step gradient write).
     * A block with NaN/Inf gets a NaN scale and no exception: {@link QuantLion} then skips the step.
     */
    public void quantizeFrom(Tensor x, boolean preserveSign) {
        x.requireDType(DType.F32, "Int8Blocks.quantizeFrom(x)");
        if (x.rank() != 2 || x.dim(0) != rows || x.dim(1) != cols || !x.device().equals(device()))
            throw new IllegalArgumentException("Int8Blocks.quantizeFrom: x must be F32[" + rows + ", " + cols + "] on "
                    + device() + ", got " + x);
        NativeStatus.check(QftNative.qft_int8_blocks_quantize(x.device().nativeId(), x.address(), rows, cols, block,
                preserveSign ? 1 : 0, codes.address(), scales.address()), "Int8Blocks.quantizeFrom(" + x + ")");
    }

    /** Requantizes this CPU buffer from a row-major Java array of rows*cols gradients (round to nearest). */
    public void quantizeFrom(float[] x) {
        if (!device().isCpu()) throw new IllegalStateException("Int8Blocks.quantizeFrom(float[]) needs a CPU buffer, this is on " + device());
        try (Tensor t = Tensor.of(Device.CPU, x, rows, cols)) {
            quantizeFrom(t, false);
        }
    }

    /** codes * scales as a (rows, cols) F32 tensor on this device; the caller owns it. */
    public Tensor dequantize() {
        Tensor out = Tensor.empty(device(), DType.F32, rows, cols);
        try {
            NativeStatus.check(QftNative.qft_int8_blocks_dequantize(device().nativeId(), codes.address(), scales.address(),
                    rows, cols, block, out.address()), "Int8Blocks.dequantize(" + rows + ", " + cols + ")");
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** codes * scales as a row-major Java array. */
    public float[] dequantizeToArray() {
        try (Tensor t = dequantize()) {
            return t.toFloats();
        }
    }

    /**
     * Overwrites codes and scales with saved values (a checkpoint's momentum): codes (rows*cols) row-major,
     * scales (rows*ceil(cols/block)). Nothing is reallocated; this object keeps owning its memory.
     */
    public void restore(byte[] savedCodes, float[] savedScales) {
        if (savedCodes.length != codes.numel() || savedScales.length != scales.numel())
            throw new IllegalArgumentException("Int8Blocks.restore: got " + savedCodes.length + " codes and " + savedScales.length
                    + " scales for " + this + " which holds " + codes.numel() + " and " + scales.numel());
        int dev = device().nativeId();
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, codes.address(), savedCodes, codes.byteSize()), "Int8Blocks.restore: codes");
        NativeStatus.check(CoreNative.qft_copy_from_host(dev, scales.address(), savedScales, scales.byteSize()), "Int8Blocks.restore: scales");
    }

    /** Whether a block holds a non-finite value (reads the scales back). */
    public boolean hasNonFinite() {
        for (float s : scales.toFloats()) if (!Float.isFinite(s)) return true;
        return false;
    }

    public int rows() { return rows; }
    public int cols() { return cols; }
    public int block() { return block; }
    public Device device() { return codes.device(); }
    public Tensor codes() { return codes; }
    public Tensor scales() { return scales; }
    public long codeBytes() { return codes.byteSize(); }
    public long scaleBytes() { return scales.byteSize(); }
    public long bytes() { return codeBytes() + scaleBytes(); }

    @Override
    public void close() {
        try (Tensor a = codes; Tensor b = scales) {
            // both closed
        }
    }

    @Override
    public String toString() {
        return "Int8Blocks(" + rows + ", " + cols + ", block " + block + ") on " + device();
    }
}
