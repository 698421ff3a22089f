package org.qft4j.bench;

import java.util.stream.IntStream;
import org.qft4j.llama.WeightMatrix;

/**
 * Random initial values of a (rows, cols) weight, for building models at real shapes without holding them on the
 * heap: a 7B model's 6.7e9 fp32 values are 27 GB. Only {@link #row} is served (it is what
 * {@link org.qft4j.llama.device.DeviceLlama} reads); this is an initializer, not a trainable matrix.
 *
 * <p>Values are uniform with mean 0 and standard deviation std, each a pure function of (seed, row, column) through
 * the splitmix64 finalizer, so any row comes out the same whenever it is read. The first read generates the whole
 * matrix on all cores; the rows are then copied out of that cache, which is dropped once the last row was read
 * (DeviceLlama reads rows in order, so each matrix is generated once and one matrix lives on the heap at a time).
 */
final class RandomMatrix implements WeightMatrix {
    private static final double SQRT3 = Math.sqrt(3);

    private final int rows, cols;
    private final long seed;
    private final float halfWidth; // uniform on [-halfWidth, halfWidth]: std = halfWidth / sqrt(3)
    private float[] cache;         // (rows, cols) row-major while rows are being read, else null

    RandomMatrix(int rows, int cols, long seed, float std) {
        if (rows <= 0 || cols <= 0 || (long) rows * cols > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("RandomMatrix: (" + rows + ", " + cols + ") must be positive and fit one Java array");
        this.rows = rows;
        this.cols = cols;
        this.seed = seed;
        this.halfWidth = (float) (std * SQRT3);
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override
    public void row(int r, float[] out, int off) {
        if (r < 0 || r >= rows) throw new IndexOutOfBoundsException("RandomMatrix: row " + r + " of " + rows);
        if (cache == null) {
            float[] all = new float[rows * cols];
            IntStream.range(0, rows).parallel().forEach(i -> fill(i, all, i * cols));
            cache = all;
        }
        System.arraycopy(cache, r * cols, out, off, cols);
        if (r == rows - 1) cache = null;
    }

    private void fill(int r, float[] out, int off) {
        long base = seed * 0x9E3779B97F4A7C15L + (long) r * cols;
        for (int c = 0; c < cols; c++) {
            long z = mix(base + c);
            // top 24 bits -> [0, 1) -> [-halfWidth, halfWidth)
            out[off + c] = ((z >>> 40) * 0x1.0p-24f * 2f - 1f) * halfWidth;
        }
    }

    /** splitmix64's finalizer (Steele, Lea, Flood 2014): a bijection of 64-bit words that mixes every bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void matmul(float[] x, int tokens, float[] y) { throw initializerOnly("matmul"); }

    @Override
    public void matmulBackwardInput(float[] dy, int tokens, float[] dx) { throw initializerOnly("matmulBackwardInput"); }

    @Override
    public void accumulateGradient(float[] dy, float[] x, int tokens) { throw initializerOnly("accumulateGradient"); }

    @Override
    public void accumulateRowGradient(int r, float[] g, int off) { throw initializerOnly("accumulateRowGradient"); }

    @Override
    public void gradientComplete() { throw initializerOnly("gradientComplete"); }

    private static UnsupportedOperationException initializerOnly(String op) {
        return new UnsupportedOperationException("RandomMatrix only supplies initial rows (for DeviceLlama); " + op + " is not available");
    }
}
