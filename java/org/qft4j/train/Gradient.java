package org.qft4j.train;

import org.qft4j.qft.Rounding;

import java.util.SplittableRandom;

/**
 * One parameter tensor's gradient for one step. QFT keeps it as INT8 codes with one fp32 scale per row
 * ({@code g[r,c] ~= codes[r,c] * scales[r]}, absmax/127, 1 byte per element plus 4 per row); tensors
 * below the fp32 threshold, and every tensor of the fp32 baselines, keep plain fp32 values. A non-finite
 * input value makes its row's scale NaN, so {@link #isFinite()} stays exact after quantization.
 */
public final class Gradient {
    /** Index of the parameter in the model's forward order. */
    public final int param;
    public final int rows;
    public final int cols;
    private final byte[] codes;   // (rows, cols) int8, null in fp32 form
    private final float[] scales; // (rows) fp32, null in fp32 form
    private final float[] values; // (rows, cols) fp32, null in int8 form

    private Gradient(int param, int rows, int cols, byte[] codes, float[] scales, float[] values) {
        this.param = param;
        this.rows = rows;
        this.cols = cols;
        this.codes = codes;
        this.scales = scales;
        this.values = values;
    }

    /** INT8 form of dW: (rows, cols) fp32, rounded stochastically (unbiased) or to nearest. */
    public static Gradient int8(int param, float[] dW, int rows, int cols, Rounding rounding, SplittableRandom rng) {
        check(param, dW, rows, cols);
        Gradient g = new Gradient(param, rows, cols, new byte[rows * cols], new float[rows], null);
        g.quantizeFrom(dW, rounding, rng);
        return g;
    }

    /** fp32 form: a copy of dW. */
    public static Gradient fp32(int param, float[] dW, int rows, int cols) {
        check(param, dW, rows, cols);
        return new Gradient(param, rows, cols, null, null, dW.clone());
    }

    public boolean isInt8() {
        return codes != null;
    }

    /**
     * Adds another micro-batch's dW. In INT8 form the sum is dequantized, added and requantized, so the
     * accumulated gradient still costs 1 byte per element; stochastic rounding keeps the sum unbiased.
     */
    public void accumulate(float[] dW, Rounding rounding, SplittableRandom rng) {
        check(param, dW, rows, cols);
        if (values != null) {
            for (int i = 0; i < values.length; i++) values[i] += dW[i];
            return;
        }
        float[] sum = new float[rows * cols];
        dequantize(sum);
        for (int i = 0; i < sum.length; i++) sum[i] += dW[i];
        quantizeFrom(sum, rounding, rng);
    }

    /** out[r*cols + c] = g[r, c]. */
    public void dequantize(float[] out) {
        if (values != null) {
            System.arraycopy(values, 0, out, 0, values.length);
            return;
        }
        for (int r = 0; r < rows; r++) {
            float s = scales[r];
            for (int c = 0, i = r * cols; c < cols; c++, i++) out[i] = codes[i] * s;
        }
    }

    /** Sum of squares of the (dequantized) gradient, in double: NaN or infinite when the gradient is. */
    public double sumSquares() {
        double sum = 0;
        if (values != null) {
            for (float v : values) sum += (double) v * v;
            return sum;
        }
        for (int r = 0; r < rows; r++) {
            long q2 = 0;
            for (int c = 0, i = r * cols; c < cols; c++, i++) q2 += codes[i] * codes[i];
            sum += (double) scales[r] * scales[r] * q2;
        }
        return sum;
    }

    public boolean isFinite() {
        return Double.isFinite(sumSquares());
    }

    /** INT8 codes (rows, cols), read-only by convention: the optimizer's fused step reads them. */
    public byte[] codes() {
        return codes;
    }

    /** Per-row scales (rows). */
    public float[] scales() {
        return scales;
    }

    /** fp32 values (rows, cols) of an fp32 gradient. */
    public float[] values() {
        return values;
    }

    /** Bytes this gradient holds: what the stash policy keeps per tensor. */
    public long bytes() {
        return values != null ? 4L * values.length : codes.length + 4L * scales.length;
    }

    private void quantizeFrom(float[] x, Rounding rounding, SplittableRandom rng) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float absmax = 0;
            boolean finite = true;
            for (int c = 0; c < cols; c++) {
                float v = x[base + c];
                if (!Float.isFinite(v)) finite = false;
                else absmax = Math.max(absmax, Math.abs(v));
            }
            if (!finite) {
                scales[r] = Float.NaN;
                continue;
            }
            float scale = absmax > 0 ? absmax / 127f : 1f;
            float inv = 1f / scale;
            scales[r] = scale;
            for (int c = 0; c < cols; c++) {
                float q = x[base + c] * inv;
                float rounded = rounding.stochastic() ? (float) Math.floor(q + rng.nextFloat()) : Math.round(q);
                codes[base + c] = (byte) Math.max(-127, Math.min(127, rounded));
            }
        }
    }

    private static void check(int param, float[] dW, int rows, int cols) {
        if (rows < 1 || cols < 1 || dW.length != rows * cols)
            throw new IllegalArgumentException("gradient of parameter " + param + ": " + dW.length + " values do not fill (" + rows + ", " + cols + ")");
    }
}
