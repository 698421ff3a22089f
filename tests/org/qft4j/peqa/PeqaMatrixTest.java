package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qft4j.Device;
import org.qft4j.Natives;
import org.qft4j.nativ.PeqaNative;

/** Dequantize-in-the-matmul forward, input gradient and scale gradient against plain Java (double) references. */
class PeqaMatrixTest {
    static final double TOL = 1e-5;

    @AfterEach
    void fastPathAgain() {
        PeqaNative.qft_peqa_cpu_reference(0);
    }

    /** reference = 1 runs the native plain loops, 0 the blocked fast path; both must match the Java statement. */
    @ParameterizedTest
    @CsvSource({"4, 13, 96, 64, 1, 0", "4, 13, 96, 64, 1, 1", "4, 37, 515, 128, 9, 0", "4, 37, 515, 128, 9, 1",
                "3, 6, 300, 0, 17, 0", "3, 6, 300, 0, 17, 1", "3, 64, 172, 64, 33, 0", "3, 5, 7, 3, 4, 1",
                "4, 1, 1000, 256, 70, 0"})
    void forwardAndBackwardMatchTheDefinition(int bits, int rows, int cols, int group, int tokens, int reference) {
        Natives.load(PeqaNative.class);
        PeqaNative.qft_peqa_cpu_reference(reference);
        float[] w = PeqaReference.gaussian(rows * cols, rows + cols, 0.05);
        float[] x = PeqaReference.gaussian(tokens * cols, 11, 1.0);
        float[] dy = PeqaReference.gaussian(tokens * rows, 12, 1.0);
        PeqaReference ref = new PeqaReference(w, rows, cols, bits, group);
        try (PeqaMatrix m = PeqaMatrix.quantize(Device.CPU, w, rows, cols, bits, group)) {
            float[] s = m.scales();
            for (int i = 0; i < s.length; i++) s[i] *= 1 + 0.01f * (i % 5); // tuned scales: ops must read the live array
            float[] what = ref.dequantize(s);

            float[] y = new float[tokens * rows];
            m.matmul(x, tokens, y);
            assertTrue(PeqaReference.relError(y, PeqaReference.matmulT(x, tokens, what, rows, cols)) < TOL, "forward");

            float[] dx = PeqaReference.gaussian(tokens * cols, 13, 1.0);
            double[] expectedDx = PeqaReference.toDouble(dx);
            double[] prod = PeqaReference.matmulT(dy, tokens, transpose(what, rows, cols), cols, rows);
            for (int i = 0; i < prod.length; i++) expectedDx[i] += prod[i];
            m.matmulBackwardInput(dy, tokens, dx);
            assertTrue(PeqaReference.relError(dx, expectedDx) < TOL, "backward input accumulates");

            m.accumulateGradient(dy, x, tokens);
            m.accumulateGradient(dy, x, tokens);
            m.gradientComplete();
            double[] ds = ref.scaleGrad(dy, x, tokens);
            for (int i = 0; i < ds.length; i++) ds[i] *= 2;
            assertTrue(PeqaReference.relError(m.scaleGrad(), ds) < TOL, "scale gradient of two contributions");
        }
    }

    @Test
    void rowsAndRowGradientsAreTheEmbeddingOps() {
        int rows = 10, cols = 70, bits = 3, group = 32;
        float[] w = PeqaReference.gaussian(rows * cols, 5, 0.3);
        PeqaReference ref = new PeqaReference(w, rows, cols, bits, group);
        try (PeqaMatrix m = PeqaMatrix.quantize(Device.CPU, w, rows, cols, bits, group)) {
            float[] what = ref.dequantize(m.scales());
            float[] out = new float[cols + 3];
            m.row(7, out, 3);
            for (int c = 0; c < cols; c++) assertEquals(what[7 * cols + c], out[3 + c], 1e-7f);
            float[] g = PeqaReference.gaussian(cols + 2, 6, 1.0);
            m.accumulateRowGradient(4, g, 2);
            m.gradientComplete();
            // one-hot dy at row 4, x = g[2 ..]: the row gradient is a one-token scale gradient
            float[] dy = new float[rows];
            dy[4] = 1;
            float[] x = java.util.Arrays.copyOfRange(g, 2, cols + 2);
            assertTrue(PeqaReference.relError(m.scaleGrad(), ref.scaleGrad(dy, x, 1)) < TOL);
            m.zeroGrad();
            assertArrayEquals(new float[m.scaleGrad().length], m.scaleGrad());
            assertEquals(rows * 3, m.trainableParameters());
        }
    }

    @Test
    void shortArraysAreRejected() {
        try (PeqaMatrix m = PeqaMatrix.quantize(Device.CPU, new float[4 * 8], 4, 8, 4, 0)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.matmul(new float[15], 2, new float[8]));
            assertTrue(e.getMessage().contains("x of length 15"), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> m.row(4, new float[8], 0));
        }
    }

    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }
}
