package org.qft4j.peqa;

import java.util.SplittableRandom;

/** Independent Java statement of PEQA's RTN quantizer, packing and ops (the test oracle for the layout). */
final class PeqaReference {
    final int rows, cols, bits, group, groups;
    final int[] q;         // (rows, cols) codes
    final float[] scales;  // (rows, groups)
    final int[] zeros;     // (rows, groups)

    PeqaReference(float[] w, int rows, int cols, int bits, int groupSize) {
        this.rows = rows;
        this.cols = cols;
        this.bits = bits;
        this.group = groupSize <= 0 || groupSize >= cols ? cols : groupSize;
        this.groups = (cols + group - 1) / group;
        this.q = new int[rows * cols];
        this.scales = new float[rows * groups];
        this.zeros = new int[rows * groups];
        float maxq = (1 << bits) - 1;
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < groups; g++) {
                int c0 = g * group, c1 = Math.min(cols, c0 + group);
                float lo = 0, hi = 0;
                for (int c = c0; c < c1; c++) {
                    lo = Math.min(lo, w[r * cols + c]);
                    hi = Math.max(hi, w[r * cols + c]);
                }
                if (lo == 0 && hi == 0) {
                    lo = -1;
                    hi = 1;
                }
                float s = (hi - lo) / maxq;
                float z = (float) Math.rint(-lo / s);
                scales[r * groups + g] = s;
                zeros[r * groups + g] = (int) z;
                for (int c = c0; c < c1; c++)
                    q[r * cols + c] = (int) Math.min(maxq, Math.max(0, (float) Math.rint(w[r * cols + c] / s) + z));
            }
    }

    /** Codes of a packed weight: 32 / bits per little-end-first 32-bit word, rows word-aligned. */
    static int[] unpack(int[] words, int rows, int cols, int bits) {
        int cpw = 32 / bits, wpr = (cols + cpw - 1) / cpw, mask = (1 << bits) - 1;
        int[] q = new int[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) q[r * cols + c] = (words[r * wpr + c / cpw] >>> (bits * (c % cpw))) & mask;
        return q;
    }

    /** What = s * (q - z) with these (possibly tuned) scales. */
    float[] dequantize(float[] s) {
        float[] w = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                int g = c / group;
                w[r * cols + c] = s[r * groups + g] * (q[r * cols + c] - zeros[r * groups + g]);
            }
        return w;
    }

    /** (q - z) as fp32, (rows, cols). */
    float[] shiftedCodes() {
        float[] u = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) u[r * cols + c] = q[r * cols + c] - zeros[r * groups + c / group];
        return u;
    }

    /** y = x Wᵀ in double. x: (tokens, cols), w: (rows, cols). */
    static double[] matmulT(float[] x, int tokens, float[] w, int rows, int cols) {
        double[] y = new double[tokens * rows];
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++) {
                double acc = 0;
                for (int c = 0; c < cols; c++) acc += (double) x[t * cols + c] * w[r * cols + c];
                y[t * rows + r] = acc;
            }
        return y;
    }

    /** ds[r,g] = sum_{c in g} dW[r,c] (q - z), dW = dyᵀx formed explicitly, in double. */
    double[] scaleGrad(float[] dy, float[] x, int tokens) {
        float[] u = shiftedCodes();
        double[] ds = new double[rows * groups];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double dw = 0;
                for (int t = 0; t < tokens; t++) dw += (double) dy[t * rows + r] * x[t * cols + c];
                ds[r * groups + c / group] += dw * u[r * cols + c];
            }
        return ds;
    }

    static float[] gaussian(int n, long seed, double sigma) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * sigma);
        return x;
    }

    /** ||a - b|| / ||b||. */
    static double relError(float[] a, double[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
