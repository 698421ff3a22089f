package org.qft4j.tensor;

import java.util.Arrays;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;

/**
 * A dense row-major block of native memory on one device, with a dtype and a shape. It has exactly one
 * owner, which closes it; {@link #close()} is idempotent, and a closed tensor refuses every use.
 * Register tensors in a {@link Scope} to close a step's temporaries together.
 *
 * <p>A {@link #view} is another shape over the start of a tensor's memory (e.g. one scratch buffer serving
 * several matrices in turn): it owns nothing, closing it does nothing, and it is unusable once its base is closed.
 */
public final class Tensor implements AutoCloseable {
    private final Device device;
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final Tensor base;  // the owner of the memory for a view, else null
    private long address;

    private Tensor(Device device, DType dtype, long[] shape) {
        this.device = device;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.base = null;
        Natives.load(CoreNative.class);
        device.requireUsable();
        long[] out = new long[1];
        NativeStatus.check(CoreNative.qft_alloc(device.nativeId(), Math.multiplyExact(numel, (long) dtype.bytes()), out),
                "allocating " + describe(dtype, shape) + " on " + device);
        this.address = out[0];
    }

    private Tensor(Tensor base, long[] shape) {
        this.device = base.device;
        this.dtype = base.dtype;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.base = base;
        this.address = base.address();
    }

    /** Uninitialised tensor. */
    public static Tensor empty(Device device, DType dtype, long... shape) {
        return new Tensor(device, dtype, shape);
    }

    public static Tensor zeros(Device device, DType dtype, long... shape) {
        Tensor t = new Tensor(device, dtype, shape);
        NativeStatus.check(CoreNative.qft_memset_zero(device.nativeId(), t.address, t.byteSize()), "zeroing " + t);
        return t;
    }

    public static Tensor of(Device device, float[] data, long... shape) {
        Tensor t = new Tensor(device, DType.F32, shape);
        t.checkLength(data.length, "float[]");
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), t.address, data, t.byteSize()), "copying into " + t);
        return t;
    }

    public static Tensor of(Device device, byte[] data, long... shape) {
        Tensor t = new Tensor(device, DType.I8, shape);
        t.checkLength(data.length, "byte[]");
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), t.address, data, t.byteSize()), "copying into " + t);
        return t;
    }

    public static Tensor of(Device device, int[] data, long... shape) {
        Tensor t = new Tensor(device, DType.I32, shape);
        t.checkLength(data.length, "int[]");
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), t.address, data, t.byteSize()), "copying into " + t);
        return t;
    }

    public float[] toFloats() {
        requireDType(DType.F32, "toFloats");
        float[] out = new float[Math.toIntExact(numel)];
        NativeStatus.check(CoreNative.qft_copy_to_host(device.nativeId(), out, address(), byteSize()), "reading " + this);
        return out;
    }

    public byte[] toBytes() {
        requireDType(DType.I8, "toBytes");
        byte[] out = new byte[Math.toIntExact(numel)];
        NativeStatus.check(CoreNative.qft_copy_to_host(device.nativeId(), out, address(), byteSize()), "reading " + this);
        return out;
    }

    public int[] toInts() {
        requireDType(DType.I32, "toInts");
        int[] out = new int[Math.toIntExact(numel)];
        NativeStatus.check(CoreNative.qft_copy_to_host(device.nativeId(), out, address(), byteSize()), "reading " + this);
        return out;
    }

    /** A view of the first elements of this tensor's memory as shape (at most this tensor's element count). */
    public Tensor view(long... shape) {
        Tensor owner = base();
        if (numel(shape) > owner.numel)
            throw new IllegalArgumentException("a view " + describe(dtype, shape) + " does not fit in " + owner);
        return new Tensor(owner, shape);
    }

    /** The tensor that owns this one's memory: itself unless this is a {@link #view}. */
    public Tensor base() {
        return base == null ? this : base;
    }

    /** A copy of this tensor on another device. */
    public Tensor to(Device target) {
        Tensor t = new Tensor(target, dtype, shape);
        NativeStatus.check(CoreNative.qft_copy(target.nativeId(), t.address, device.nativeId(), address(), byteSize()),
                "copying " + this + " to " + target);
        return t;
    }

    public Device device() { return device; }
    public DType dtype() { return dtype; }
    public long[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long dim(int i) { return shape[i]; }
    public long numel() { return numel; }
    public long byteSize() { return numel * dtype.bytes(); }

    /** The native address, for passing to ops; throws when the tensor is closed. */
    public long address() {
        if (isClosed()) throw new IllegalStateException("use of a closed tensor " + describe(dtype, shape) + " on " + device);
        return address;
    }

    public boolean isClosed() {
        return base != null ? base.isClosed() : address == 0;
    }

    @Override
    public void close() {
        if (base != null || address == 0) return;
        long a = address;
        address = 0;
        NativeStatus.check(CoreNative.qft_free(device.nativeId(), a), "freeing " + describe(dtype, shape) + " on " + device);
    }

    @Override
    public String toString() {
        return describe(dtype, shape) + " on " + device + (isClosed() ? " (closed)" : "") + (base != null ? " (a view)" : "");
    }

    public static String describe(DType dtype, long[] shape) {
        return dtype + Arrays.toString(shape);
    }

    public void requireDType(DType expected, String op) {
        if (dtype != expected) throw new IllegalArgumentException(op + ": expected " + expected + " tensor, got " + this);
    }

    private void checkLength(int length, String what) {
        if (length != numel) {
            close();
            throw new IllegalArgumentException(what + " of length " + length + " does not fill shape " + Arrays.toString(shape)
                    + " (" + numel + " elements)");
        }
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
