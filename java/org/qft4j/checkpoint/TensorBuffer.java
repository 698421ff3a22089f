package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import org.qft4j.tensor.DType;

/**
 * A tensor whose little-endian bytes sit in one {@link ByteBuffer}: a heap array given to a save, or a
 * read-only slice of a memory-mapped checkpoint after a load (valid as long as the file exists; copy
 * out with the {@code to*} methods to keep values).
 */
public final class TensorBuffer implements TensorData {
    private final DType dtype;
    private final long[] shape;
    private final ByteBuffer bytes; // (numel * dtype.bytes()) bytes, little-endian, position 0

    private TensorBuffer(DType dtype, ByteBuffer bytes, long[] shape) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.bytes = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
        long expected = Math.multiplyExact(TensorData.numel(shape), (long) dtype.bytes());
        if (this.bytes.remaining() != expected)
            throw new IllegalArgumentException(this.bytes.remaining() + " bytes do not fill " + dtype + Arrays.toString(shape)
                    + " (" + expected + " bytes)");
    }

    /** Wraps the remaining bytes of {@code littleEndian} (not copied) as a tensor of the given dtype and shape. */
    public static TensorBuffer of(DType dtype, ByteBuffer littleEndian, long... shape) {
        return new TensorBuffer(dtype, littleEndian, shape);
    }

    public static TensorBuffer ofFloats(float[] values, long... shape) {
        ByteBuffer b = allocate(values.length, 4);
        b.asFloatBuffer().put(values);
        return new TensorBuffer(DType.F32, b, shape);
    }

    public static TensorBuffer ofInts(int[] values, long... shape) {
        ByteBuffer b = allocate(values.length, 4);
        b.asIntBuffer().put(values);
        return new TensorBuffer(DType.I32, b, shape);
    }

    public static TensorBuffer ofLongs(long[] values, long... shape) {
        ByteBuffer b = allocate(values.length, 8);
        b.asLongBuffer().put(values);
        return new TensorBuffer(DType.I64, b, shape);
    }

    /** Raw one-byte elements (I8, U8) or raw little-endian bytes of any dtype (F16, BF16 bit patterns). */
    public static TensorBuffer ofBytes(DType dtype, byte[] values, long... shape) {
        return new TensorBuffer(dtype, ByteBuffer.wrap(values), shape);
    }

    private static ByteBuffer allocate(int count, int width) {
        return ByteBuffer.allocate(Math.multiplyExact(count, width)).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public DType dtype() { return dtype; }

    @Override
    public long[] shape() { return shape.clone(); }

    /** A read-only little-endian view of the bytes. */
    public ByteBuffer bytes() {
        return bytes.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void writeTo(WritableByteChannel out) throws IOException {
        ByteBuffer b = bytes.duplicate();
        while (b.hasRemaining()) out.write(b);
    }

    /** The values as fp32: F32 as stored, F16 and BF16 widened exactly. */
    public float[] toFloats() {
        float[] out = new float[Math.toIntExact(numel())];
        ByteBuffer b = bytes();
        switch (dtype) {
            case F32:
                b.asFloatBuffer().get(out);
                return out;
            case BF16:
                for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
                return out;
            case F16:
                for (int i = 0; i < out.length; i++) out[i] = halfToFloat(b.getShort(2 * i));
                return out;
            default:
                throw new IllegalStateException("toFloats: tensor is " + this + ", not F32, F16 or BF16");
        }
    }

    /** fp32 values stored as BF16, rounded to nearest even (NaN stays NaN). */
    public static TensorBuffer ofBf16(float[] values, long... shape) {
        ByteBuffer b = allocate(values.length, 2);
        for (float f : values) {
            int bits = Float.floatToRawIntBits(f);
            b.putShort((short) (Float.isNaN(f) ? (bits >>> 16) | 0x40 : (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16));
        }
        return new TensorBuffer(DType.BF16, b.flip(), shape);
    }

    private static float halfToFloat(short h) {
        int exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
        float v;
        if (exp == 0) v = mant * 0x1p-24f;
        else if (exp == 31) v = mant == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        else v = Float.intBitsToFloat(((exp - 15 + 127) << 23) | (mant << 13));
        return h < 0 ? -v : v;
    }

    public int[] toInts() {
        require(DType.I32, "toInts");
        int[] out = new int[Math.toIntExact(numel())];
        bytes().asIntBuffer().get(out);
        return out;
    }

    public long[] toLongs() {
        require(DType.I64, "toLongs");
        long[] out = new long[Math.toIntExact(numel())];
        bytes().asLongBuffer().get(out);
        return out;
    }

    /** The raw bytes (for I8 and U8 the elements; for other dtypes the little-endian encoding). */
    public byte[] toBytes() {
        byte[] out = new byte[bytes.remaining()];
        bytes().get(out);
        return out;
    }

    /**
     * The index of the first NaN or infinity in a floating-point tensor (F32, F16, BF16), or -1 when all
     * elements are finite or the dtype is an integer type. Checks exponent bits, so it never converts.
     */
    public long firstNonFinite() {
        ByteBuffer b = bytes();
        long n = numel();
        switch (dtype) {
            case F32:
                for (long i = 0; i < n; i++) if ((b.getInt((int) (i * 4)) & 0x7f800000) == 0x7f800000) return i;
                return -1;
            case F16:
                for (long i = 0; i < n; i++) if ((b.getShort((int) (i * 2)) & 0x7c00) == 0x7c00) return i;
                return -1;
            case BF16:
                for (long i = 0; i < n; i++) if ((b.getShort((int) (i * 2)) & 0x7f80) == 0x7f80) return i;
                return -1;
            default:
                return -1;
        }
    }

    private void require(DType expected, String op) {
        if (dtype != expected) throw new IllegalStateException(op + ": tensor is " + dtype + Arrays.toString(shape) + ", not " + expected);
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
