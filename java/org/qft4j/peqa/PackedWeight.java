package org.qft4j.peqa;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.PeqaNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * A (rows, cols) weight quantized to b = 3 or 4 bits with one fp32 scale and one integer zero-point per
 * group of {@code groupSize} consecutive columns of a row (PEQA, arXiv 2305.14152):
 * {@code W[r,c] ~= scales[r,g] * (q[r,c] - zeros[r,g])}, g = c / groupSize. The last group of a row is
 * partial when cols is not a multiple of the group size; {@link #PER_CHANNEL} gives one group per row.
 * Codes are packed {@code 32 / bits} per 32-bit word (8 at 4 bits, 10 at 3 bits), each row starting on a
 * word; see {@code native/include/qft4j/peqa.h}. Codes and zero-points are frozen; only the scales change.
 *
 * <p>Owns three native tensors on one device; {@link #close()} is idempotent.
 */
public final class PackedWeight implements AutoCloseable {
    /** Group size meaning one group per row (per-output-channel quantization). */
    public static final int PER_CHANNEL = 0;

    private final int rows, cols, bits, groupSize, groups, words;
    private final Tensor codes;  // (rows, words) int32 words of packed codes
    private final Tensor scales; // (rows, groups) fp32
    private final Tensor zeros;  // (rows, groups) uint8 held as I8 (values 0 .. 2^bits - 1)

    private PackedWeight(Device device, int rows, int cols, int bits, int groupSize) {
        if (bits != 3 && bits != 4) throw new IllegalArgumentException("PEQA bits must be 3 or 4, got " + bits);
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("bad weight shape (" + rows + ", " + cols + ")");
        if (groupSize < 0) throw new IllegalArgumentException("group size must be >= 1, or 0 for per-channel, got " + groupSize);
        Natives.load(PeqaNative.class);
        this.rows = rows;
        this.cols = cols;
        this.bits = bits;
        this.groupSize = groupSize == PER_CHANNEL || groupSize >= cols ? Math.max(1, cols) : groupSize;
        this.groups = cols == 0 ? 0 : (cols + this.groupSize - 1) / this.groupSize;
        this.words = Math.toIntExact(PeqaNative.qft_peqa_words_per_row(bits, cols));
        Tensor c = null, s = null;
        try {
            c = Tensor.empty(device, DType.I32, rows, words);
            s = Tensor.empty(device, DType.F32, rows, groups);
            this.zeros = Tensor.empty(device, DType.I8, rows, groups);
        } catch (RuntimeException e) {
            if (c != null) c.close();
            if (s != null) s.close();
            throw e;
        }
        this.codes = c;
        this.scales = s;
    }

    /** RTN quantization of w: (rows, cols) fp32 row-major, on the CPU. */
    public static PackedWeight fromFloats(float[] w, int rows, int cols, int bits, int groupSize) {
        return fromFloats(Device.CPU, w, rows, cols, bits, groupSize);
    }

    /**
     * RTN quantization of w (computed on the CPU, then placed on {@code device}): per group
     * lo = min(0, min w), hi = max(0, max w), s = (hi - lo) / (2^b - 1), z = round(-lo / s),
     * q = clamp(round(w / s) + z, 0, 2^b - 1) (GPTQ's asymmetric quantizer).
     *
     * @throws org.qft4j.Qft4jException if w holds NaN/Inf (the message names the row)
     */
    public static PackedWeight fromFloats(Device device, float[] w, int rows, int cols, int bits, int groupSize) {
        if (w.length != (long) rows * cols)
            throw new IllegalArgumentException("w of length " + w.length + " is not (" + rows + ", " + cols + ")");
        PackedWeight p = new PackedWeight(Device.CPU, rows, cols, bits, groupSize);
        try (Tensor src = Tensor.of(Device.CPU, w, rows, cols)) {
            NativeStatus.check(PeqaNative.qft_peqa_quantize_rtn(-1, src.address(), rows, cols, bits, p.groupSize,
                    p.codes.address(), p.scales.address(), p.zeros.address()), "PEQA RTN of W (" + rows + ", " + cols + ")");
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        if (device.isCpu()) return p;
        try (PackedWeight cpu = p) {
            return cpu.to(device);
        }
    }

    /** A packed weight from its parts (e.g. read from a file): codes (rows, words), scales and zeros (rows, groups). */
    public static PackedWeight of(Device device, int rows, int cols, int bits, int groupSize, int[] codes, float[] scales,
            byte[] zeros) {
        PackedWeight p = new PackedWeight(device, rows, cols, bits, groupSize);
        try {
            p.requireLength(codes.length, (long) rows * p.words, "codes");
            p.requireLength(scales.length, (long) rows * p.groups, "scales");
            p.requireLength(zeros.length, (long) rows * p.groups, "zeros");
            for (byte z : zeros)
                if (z < 0 || z > (1 << bits) - 1)
                    throw new IllegalArgumentException("zero-point " + z + " outside [0, " + ((1 << bits) - 1) + "]");
            p.copyIn(p.codes, codes);
            p.setScales(scales);
            p.copyIn(p.zeros, zeros);
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** A copy on another device. */
    public PackedWeight to(Device target) {
        return of(target, rows, cols, bits, groupSize, codes(), scales(), zeros());
    }

    /** What = s * (q - z): (rows, cols) fp32. */
    public float[] dequantize() {
        try (Tensor w = Tensor.empty(device(), DType.F32, rows, cols)) {
            NativeStatus.check(PeqaNative.qft_peqa_dequantize(device().nativeId(), codes.address(), scales.address(),
                    zeros.address(), rows, cols, bits, groupSize, w.address()), "PEQA dequantize " + this);
            return w.toFloats();
        }
    }

    /** Overwrites the scales: (rows, groups) fp32. */
    public void setScales(float[] s) {
        requireLength(s.length, (long) rows * groups, "scales");
        copyIn(scales, s);
    }

    public int[] codes() { return codes.toInts(); }
    public float[] scales() { return scales.toFloats(); }
    public byte[] zeros() { return zeros.toBytes(); }

    public int rows() { return rows; }
    public int cols() { return cols; }
    public int bits() { return bits; }
    /** Columns per group (cols for per-channel quantization). */
    public int groupSize() { return groupSize; }
    public int groups() { return groups; }
    /** 32-bit words per packed row. */
    public int wordsPerRow() { return words; }
    public Device device() { return codes.device(); }

    /** Storage of the quantized weight: packed codes + fp32 scales + uint8 zero-points. */
    public long bytes() {
        return codes.byteSize() + scales.byteSize() + zeros.byteSize();
    }

    /** Native addresses for the ops (throw when closed). */
    long codesAddress() { return codes.address(); }
    long scalesAddress() { return scales.address(); }
    long zerosAddress() { return zeros.address(); }

    @Override
    public void close() {
        try (Tensor c = codes; Tensor s = scales; Tensor z = zeros) {
            // all three closed
        }
    }

    @Override
    public String toString() {
        return "PackedWeight(" + rows + ", " + cols + ", " + bits + "-bit, group " + groupSize + ") on " + device()
                + (codes.isClosed() ? " (closed)" : "");
    }

    private void requireLength(int length, long expected, String what) {
        if (length != expected)
            throw new IllegalArgumentException(what + " of length " + length + " does not fit " + this + ": expected " + expected);
    }

    private void copyIn(Tensor t, int[] data) {
        NativeStatus.check(org.qft4j.nativ.CoreNative.qft_copy_from_host(t.device().nativeId(), t.address(), data, t.byteSize()),
                "copying into " + t);
    }

    private void copyIn(Tensor t, float[] data) {
        NativeStatus.check(org.qft4j.nativ.CoreNative.qft_copy_from_host(t.device().nativeId(), t.address(), data, t.byteSize()),
                "copying into " + t);
    }

    private void copyIn(Tensor t, byte[] data) {
        NativeStatus.check(org.qft4j.nativ.CoreNative.qft_copy_from_host(t.device().nativeId(), t.address(), data, t.byteSize()),
                "copying into " + t);
    }
}
