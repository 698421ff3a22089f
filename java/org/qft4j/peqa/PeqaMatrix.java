package org.qft4j.peqa;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.llama.WeightMatrix;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.PeqaNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * A PEQA weight as the LLaMA engine sees it: the b-bit codes and zero-points are frozen, the per-group
 * scales are the only trainable parameters. Forward and backward run the native dequantize-in-the-matmul
 * kernels on the weight's device; the scale gradient is accumulated without ever forming dW.
 *
 * <p>The optimizer works on {@link #scales()} and {@link #scaleGrad()} (heap arrays, (rows, groups)
 * row-major): AdamW with weight decay 0 on the scales is PEQA's recipe. The heap scales are the master
 * copy; every op uploads them first, so in-place updates are seen without further calls.
 * {@link #scaleGrad()} holds the sum of all backward passes since {@link #zeroGrad()}, complete after
 * {@link #gradientComplete()}. Not thread-safe: one engine thread per matrix.
 */
public final class PeqaMatrix implements WeightMatrix, AutoCloseable {
    private final PackedWeight weight;
    private final float[] scales;     // (rows, groups) trainable, master copy
    private float[] scaleGrad;        // (rows, groups), allocated on first use (an owner may keep the gradient itself)
    private final Tensor gradAcc;     // (rows, groups) on the device: contributions of the running backward pass
    private final Tensor one;         // (1) = 1.0f, the dy of a single-row gradient
    private Tensor in, out;           // scratch activations on the device, grown on demand
    private final float[] rowBuf;

    /** Takes ownership of {@code weight}. */
    public PeqaMatrix(PackedWeight weight) {
        this.weight = weight;
        this.scales = weight.scales();
        Device d = weight.device();
        this.gradAcc = Tensor.zeros(d, DType.F32, weight.rows(), weight.groups());
        this.one = Tensor.of(d, new float[] {1f}, 1);
        this.rowBuf = new float[weight.cols()];
    }

    /** RTN-quantizes a fp32 weight (rows, cols) onto {@code device}. */
    public static PeqaMatrix quantize(Device device, float[] w, int rows, int cols, int bits, int groupSize) {
        return new PeqaMatrix(PackedWeight.fromFloats(device, w, rows, cols, bits, groupSize));
    }

    public PackedWeight weight() { return weight; }
    /** The trainable scales (rows, groups): update in place. */
    public float[] scales() { return scales; }
    /** d loss / d scales (rows, groups). */
    public float[] scaleGrad() {
        if (scaleGrad == null) scaleGrad = new float[scales.length];
        return scaleGrad;
    }
    public int groups() { return weight.groups(); }
    /** Number of trainable parameters: rows * groups. */
    public int trainableParameters() { return scales.length; }

    public void zeroGrad() {
        if (scaleGrad != null) java.util.Arrays.fill(scaleGrad, 0f);
    }

    /** Writes the current scales into the packed weight (for export or dequantize). */
    public PackedWeight syncedWeight() {
        weight.setScales(scales);
        return weight;
    }

    @Override public int rows() { return weight.rows(); }
    @Override public int cols() { return weight.cols(); }

    @Override
    public void matmul(float[] x, int tokens, float[] y) {
        int rows = rows(), cols = cols();
        requireLength(x, (long) tokens * cols, "x");
        requireLength(y, (long) tokens * rows, "y");
        weight.setScales(scales);
        Tensor xs = upload(in(tokens * (long) cols), x, (long) tokens * cols);
        Tensor ys = out(tokens * (long) rows);
        check(PeqaNative.qft_peqa_matmul(dev(), xs.address(), tokens, weight.codesAddress(), weight.scalesAddress(),
                weight.zerosAddress(), rows, cols, weight.bits(), weight.groupSize(), ys.address()), "matmul", tokens);
        download(y, ys, (long) tokens * rows);
    }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) {
        int rows = rows(), cols = cols();
        requireLength(dy, (long) tokens * rows, "dy");
        requireLength(dx, (long) tokens * cols, "dx");
        weight.setScales(scales);
        Tensor dys = upload(in(tokens * (long) rows), dy, (long) tokens * rows);
        Tensor dxs = upload(out(tokens * (long) cols), dx, (long) tokens * cols);
        check(PeqaNative.qft_peqa_matmul_backward_input(dev(), dys.address(), tokens, weight.codesAddress(),
                weight.scalesAddress(), weight.zerosAddress(), rows, cols, weight.bits(), weight.groupSize(), dxs.address()),
                "backward input", tokens);
        download(dx, dxs, (long) tokens * cols);
    }

    /** The weight gradient dyᵀx reaches the scales only: ds[r,g] += sum_t dy[t,r] sum_{c in g} x[t,c] (q[r,c] - z[r,g]). */
    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) {
        int rows = rows(), cols = cols();
        requireLength(dy, (long) tokens * rows, "dy");
        requireLength(x, (long) tokens * cols, "x");
        Tensor dys = upload(in(tokens * (long) rows), dy, (long) tokens * rows);
        Tensor xs = upload(out(tokens * (long) cols), x, (long) tokens * cols);
        check(PeqaNative.qft_peqa_scale_grad(dev(), dys.address(), xs.address(), tokens, weight.codesAddress(),
                weight.zerosAddress(), rows, cols, weight.bits(), weight.groupSize(), gradAcc.address()), "scale gradient", tokens);
    }

    @Override
    public void row(int r, float[] out, int off) {
        checkRow(r);
        weight.setScales(scales);
        int cols = cols();
        Tensor w = out(cols);
        check(PeqaNative.qft_peqa_dequantize(dev(), codesRow(r), weight.scalesAddress() + 4L * r * groups(),
                weight.zerosAddress() + (long) r * groups(), 1, cols, weight.bits(), weight.groupSize(), w.address()), "row", 1);
        download(rowBuf, w, cols);
        System.arraycopy(rowBuf, 0, out, off, cols);
    }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) {
        checkRow(r);
        int cols = cols();
        System.arraycopy(g, off, rowBuf, 0, cols);
        Tensor gs = upload(in(cols), rowBuf, cols);
        check(PeqaNative.qft_peqa_scale_grad(dev(), one.address(), gs.address(), 1, codesRow(r),
                weight.zerosAddress() + (long) r * groups(), 1, cols, weight.bits(), weight.groupSize(),
                gradAcc.address() + 4L * r * groups()), "row gradient", 1);
    }

    /** Moves this pass's scale gradient into {@link #scaleGrad()} and clears the device accumulator. */
    @Override
    public void gradientComplete() {
        moveGradientInto(scaleGrad());
    }

    /**
     * Adds this pass's scale gradient to {@code dst} (rows, groups) and clears the device accumulator: for an owner
     * that keeps the gradient itself (the trainer's {@code PeqaTensor}) instead of {@link #scaleGrad()}.
     */
    public void moveGradientInto(float[] dst) {
        requireLength(dst, scales.length, "scale gradient");
        float[] g = gradAcc.toFloats();
        for (int i = 0; i < g.length; i++) dst[i] += g[i];
        NativeStatus.check(CoreNative.qft_memset_zero(dev(), gradAcc.address(), gradAcc.byteSize()), "clearing " + gradAcc);
    }

    @Override
    public void close() {
        try (PackedWeight w = weight; Tensor g = gradAcc; Tensor o = one; Tensor a = in; Tensor b = out) {
            in = null;
            out = null;
        }
    }

    @Override
    public String toString() {
        return "PeqaMatrix(" + weight + ")";
    }

    private int dev() { return weight.device().nativeId(); }

    private long codesRow(int r) { return weight.codesAddress() + 4L * r * weight.wordsPerRow(); }

    private void checkRow(int r) {
        if (r < 0 || r >= rows()) throw new IndexOutOfBoundsException("row " + r + " of " + this);
    }

    private Tensor in(long floats) {
        if (in == null || in.numel() < floats) {
            if (in != null) in.close();
            in = null;
            in = Tensor.empty(weight.device(), DType.F32, Math.max(floats, 1));
        }
        return in;
    }

    private Tensor out(long floats) {
        if (out == null || out.numel() < floats) {
            if (out != null) out.close();
            out = null;
            out = Tensor.empty(weight.device(), DType.F32, Math.max(floats, 1));
        }
        return out;
    }

    private Tensor upload(Tensor t, float[] src, long floats) {
        NativeStatus.check(CoreNative.qft_copy_from_host(dev(), t.address(), src, 4 * floats), "copying into " + t);
        return t;
    }

    private void download(float[] dst, Tensor t, long floats) {
        NativeStatus.check(CoreNative.qft_copy_to_host(dev(), dst, t.address(), 4 * floats), "reading " + t);
    }

    private void check(int status, String op, int tokens) {
        NativeStatus.check(status, "PEQA " + op + " of " + weight + " with " + tokens + " tokens");
    }

    private static void requireLength(float[] a, long needed, String what) {
        if (a.length < needed)
            throw new IllegalArgumentException(what + " of length " + a.length + " is shorter than the " + needed + " values needed");
    }
}
