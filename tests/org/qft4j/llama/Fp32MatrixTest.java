package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Fp32Matrix's blocked kernels against the textbook loops, on shapes with and without 4-multiples. */
class Fp32MatrixTest {
    @Test
    void kernelsMatchNaiveLoops() {
        Random rnd = new Random(4);
        int[][] shapes = {{7, 5, 3}, {64, 64, 33}, {172, 64, 8}, {13, 172, 1}, {4, 4, 4}};
        for (int[] s : shapes) {
            int rows = s[0], cols = s[1], tokens = s[2];
            Fp32Matrix m = new Fp32Matrix(rows, cols);
            float[] w = m.weights(), x = rand(rnd, tokens * cols), dy = rand(rnd, tokens * rows);
            System.arraycopy(rand(rnd, rows * cols), 0, w, 0, w.length);
            float[] y = new float[tokens * rows], dx = rand(rnd, tokens * cols), dx0 = dx.clone();
            m.matmul(x, tokens, y);
            m.matmulBackwardInput(dy, tokens, dx);
            m.accumulateGradient(dy, x, tokens);
            m.accumulateGradient(dy, x, tokens);
            for (int t = 0; t < tokens; t++)
                for (int r = 0; r < rows; r++) {
                    double e = 0;
                    for (int c = 0; c < cols; c++) e += (double) x[t * cols + c] * w[r * cols + c];
                    assertEquals(e, y[t * rows + r], 1e-4, "y " + t + "," + r);
                }
            for (int t = 0; t < tokens; t++)
                for (int c = 0; c < cols; c++) {
                    double e = dx0[t * cols + c];
                    for (int r = 0; r < rows; r++) e += (double) dy[t * rows + r] * w[r * cols + c];
                    assertEquals(e, dx[t * cols + c], 1e-4, "dx " + t + "," + c);
                }
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    double e = 0;
                    for (int t = 0; t < tokens; t++) e += (double) dy[t * rows + r] * x[t * cols + c];
                    assertEquals(2 * e, m.gradient()[r * cols + c], 1e-4, "dW " + r + "," + c);
                }
        }
    }

    private static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
