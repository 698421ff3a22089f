package org.qft4j.ops;

import java.util.logging.Level;
import java.util.logging.Logger;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.MatmulNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * The INT8 matmul of every qft4j linear layer ({@code native/include/qft4j/int8_matmul.h}):
 * {@code Y[m,n] = rowScale[m] * colScale[n] * sum_k A[m,k] * B[n,k] (+ bias[n]) (+ Y[m,n])}, A: (M,K) I8,
 * B: (N,K) I8 (both K-contiguous, "TN"), exact int32 accumulation, F32 or BF16 output. For K above
 * {@link #MAX_EXACT_K} the reduction is split into chunks of {@link #K_CHUNK} that are added in fp32.
 * All tensors must live on one device; the op runs there.
 */
public final class Int8Matmul {
    private static final Logger LOG = Logger.getLogger("org.qft4j");

    /** The largest K whose int32 sum of int8 products cannot overflow. */
    public static final long MAX_EXACT_K = 131071;
    /** Chunk length of the split reduction when K exceeds {@link #MAX_EXACT_K}. */
    public static final long K_CHUNK = 65536;

    /** Kernel selection; {@link #AUTO} picks the fastest kernel of the device. */
    public enum Kernel {
        AUTO(0), CPU_REF(1), CPU_AVX2(2), CPU_VNNI(3), CUDA_MMA(16), CUDA_WGMMA(17), CUDA_TMA(18);

        final int id;

        Kernel(int id) {
            this.id = id;
        }
    }

    private Int8Matmul() {}

    /** Exact {@code C = A Bᵀ} in int32: a new (M,N) I32 tensor. K must be at most {@link #MAX_EXACT_K}. */
    public static Tensor int32(Tensor a, Tensor b, Kernel kernel) {
        long[] mnk = shapes("Int8Matmul.int32", a, b);
        if (mnk[2] > MAX_EXACT_K)
            throw new IllegalArgumentException("Int8Matmul.int32: K = " + mnk[2] + " of A " + a + " and B " + b
                    + " exceeds " + MAX_EXACT_K + ", where int32 sums can overflow; use Int8Matmul.matmul");
        Natives.load(MatmulNative.class);
        Tensor c = Tensor.empty(a.device(), DType.I32, mnk[0], mnk[1]);
        try {
            NativeStatus.check(MatmulNative.qft_int8_matmul_i32(a.device().nativeId(), kernel.id, a.address(), b.address(),
                    c.address(), mnk[0], mnk[1], mnk[2]), "Int8Matmul.int32(" + a + ", " + b + ", " + kernel + ")");
            logKernel(a, b);
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** {@code rowScale ⊙ (A Bᵀ) ⊙ colScale + bias} as a new (M,N) F32 tensor; scales and bias may be null. */
    public static Tensor matmul(Tensor a, Tensor rowScale, Tensor b, Tensor colScale, Tensor bias) {
        long[] mnk = shapes("Int8Matmul.matmul", a, b);
        Tensor y = Tensor.empty(a.device(), DType.F32, mnk[0], mnk[1]);
        try {
            matmulInto(a, rowScale, b, colScale, bias, y, false, Kernel.AUTO);
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /**
     * Writes (or, with {@code accumulate}, adds) the scaled product into y: (M,N) F32 or BF16.
     * rowScale: (M) F32, colScale: (N) F32, bias: (N) F32, each optional (null).
     */
    public static void matmulInto(Tensor a, Tensor rowScale, Tensor b, Tensor colScale, Tensor bias, Tensor y, boolean accumulate,
            Kernel kernel) {
        String op = "Int8Matmul.matmul";
        long[] mnk = shapes(op, a, b);
        long m = mnk[0], n = mnk[1], k = mnk[2];
        requireVector(op, "rowScale", rowScale, m, a.device());
        requireVector(op, "colScale", colScale, n, a.device());
        requireVector(op, "bias", bias, n, a.device());
        if (y.dtype() != DType.F32 && y.dtype() != DType.BF16)
            throw new IllegalArgumentException(op + ": y must be F32 or BF16, got " + y);
        if (y.rank() != 2 || y.dim(0) != m || y.dim(1) != n)
            throw new IllegalArgumentException(op + ": y must be (" + m + ", " + n + ") for A " + a + " and B " + b + ", got " + y);
        requireSameDevice(op, "y", y, a.device());
        Natives.load(MatmulNative.class);
        NativeStatus.check(MatmulNative.qft_int8_matmul(a.device().nativeId(), kernel.id, a.address(), addressOf(rowScale),
                b.address(), addressOf(colScale), addressOf(bias), y.address(), y.dtype() == DType.BF16 ? 1 : 0,
                accumulate ? 1 : 0, m, n, k), op + "(" + a + ", " + b + " -> " + y + ", " + kernel + ")");
        logKernel(a, b);
    }

    /** Logs (level FINE) which kernel ran: the dispatcher never falls back silently. */
    private static void logKernel(Tensor a, Tensor b) {
        if (LOG.isLoggable(Level.FINE)) LOG.fine("Int8Matmul " + a + " x " + b + "ᵀ ran " + MatmulNative.qft_int8_matmul_last_kernel());
    }

    /** The kernel that the last Int8Matmul call on this thread ran, e.g. "cpu-vnni-8x32" (for logs). */
    public static String lastKernel() {
        Natives.load(MatmulNative.class);
        return MatmulNative.qft_int8_matmul_last_kernel();
    }

    /** Whether {@code kernel} can run on {@code device} in this JVM. */
    public static boolean hasKernel(Device device, Kernel kernel) {
        Natives.load(MatmulNative.class);
        if (device.isCuda() && !org.qft4j.Cuda.status().usable()) return false;
        return MatmulNative.qft_int8_matmul_has_kernel(device.nativeId(), kernel.id) != 0;
    }

    /** Validates A (M,K) I8 and B (N,K) I8 on one device; returns {M, N, K}. */
    static long[] shapes(String op, Tensor a, Tensor b) {
        a.requireDType(DType.I8, op + "(A)");
        b.requireDType(DType.I8, op + "(B)");
        if (a.rank() != 2) throw new IllegalArgumentException(op + ": A must be (M, K), got " + a);
        if (b.rank() != 2) throw new IllegalArgumentException(op + ": B must be (N, K), got " + b);
        if (a.dim(1) != b.dim(1))
            throw new IllegalArgumentException(op + ": A (M, K) and B (N, K) disagree on K: A " + a + ", B " + b);
        requireSameDevice(op, "B", b, a.device());
        return new long[] {a.dim(0), b.dim(0), a.dim(1)};
    }

    static void requireVector(String op, String name, Tensor t, long length, Device device) {
        if (t == null) return;
        t.requireDType(DType.F32, op + "(" + name + ")");
        if (t.rank() != 1 || t.dim(0) != length)
            throw new IllegalArgumentException(op + ": " + name + " must be (" + length + "), got " + t);
        requireSameDevice(op, name, t, device);
    }

    static void requireSameDevice(String op, String name, Tensor t, Device device) {
        if (!t.device().equals(device))
            throw new IllegalArgumentException(op + ": " + name + " " + t + " is not on " + device + " like A");
    }

    static long addressOf(Tensor t) {
        return t == null ? 0 : t.address();
    }
}
