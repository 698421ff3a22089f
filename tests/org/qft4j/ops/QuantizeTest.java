package org.qft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.Qft4jException;
import org.qft4j.tensor.Tensor;

class QuantizeTest {
    /** Independent Java statement of the op: absmax/127, round half to even, clamp. */
    static void expected(float[] x, int rows, int cols, byte[] q, float[] scales) {
        for (int r = 0; r < rows; r++) {
            float max = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, Math.abs(x[r * cols + c]));
            float s = max > 0 ? max / 127f : 1f;
            scales[r] = s;
            for (int c = 0; c < cols; c++) q[r * cols + c] = (byte) Math.max(-127, Math.min(127, Math.rint(x[r * cols + c] / s)));
        }
    }

    static float[] random(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i % 7)));
        return x;
    }

    @Test
    void matchesTheDefinitionOnCpu() {
        int rows = 37, cols = 515;
        float[] x = random(rows * cols, 1);
        x[5] = 0;
        for (int c = 0; c < cols; c++) x[3 * cols + c] = 0; // an all-zero row keeps scale 1
        byte[] q = new byte[x.length];
        float[] s = new float[rows];
        expected(x, rows, cols, q, s);
        try (Tensor t = Tensor.of(Device.CPU, x, rows, cols); Quantize.Rows got = Quantize.rowsAbsmax(t)) {
            assertArrayEquals(q, got.codes.toBytes());
            assertArrayEquals(s, got.scales.toFloats());
            assertEquals(1f, got.scales.toFloats()[3]);
        }
    }

    @Test
    void extremesMapTo127AndHalfwayValuesRoundToEven() {
        // row absmax 127 makes the scale exactly 1, so x/scale = x and 2.5 -> 2, 3.5 -> 4, -0.5 -> 0
        float[] x = {127, -127, 2.5f, 3.5f, -0.5f, 0};
        try (Tensor t = Tensor.of(Device.CPU, x, 1, 6); Quantize.Rows got = Quantize.rowsAbsmax(t)) {
            assertArrayEquals(new byte[] {127, -127, 2, 4, 0, 0}, got.codes.toBytes());
        }
    }

    @Test
    void nonFiniteRowsAreReportedWithTheShape() {
        float[] x = random(4 * 8, 2);
        x[9] = Float.NaN;
        x[30] = Float.POSITIVE_INFINITY;
        try (Tensor t = Tensor.of(Device.CPU, x, 4, 8)) {
            Qft4jException e = assertThrows(Qft4jException.class, () -> Quantize.rowsAbsmax(t));
            assertTrue(e.getMessage().contains("2 of 4 rows of x (4, 8) hold NaN/Inf"), e.getMessage());
        }
    }

    @Test
    void rejectsWrongRankAndDtype() {
        try (Tensor t = Tensor.of(Device.CPU, new float[6], 6); Tensor b = Tensor.of(Device.CPU, new byte[6], 2, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Quantize.rowsAbsmax(t));
            assertTrue(e.getMessage().contains("(rows, cols), got F32[6]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Quantize.rowsAbsmax(b));
            assertTrue(e.getMessage().contains("expected F32 tensor, got I8[2, 3]"), e.getMessage());
        }
    }

    @Test
    @GpuTest
    void gpuKernelMatchesCpuReferenceBitForBit() {
        Device gpu = Gpus.require();
        for (int[] shape : new int[][] {{1, 1}, {3, 31}, {257, 1000}, {64, 4097}}) {
            float[] x = random(shape[0] * shape[1], shape[1]);
            try (Tensor c = Tensor.of(Device.CPU, x, shape[0], shape[1]); Tensor g = c.to(gpu);
                 Quantize.Rows ref = Quantize.rowsAbsmax(c); Quantize.Rows got = Quantize.rowsAbsmax(g)) {
                assertArrayEquals(ref.codes.toBytes(), got.codes.toBytes());
                assertArrayEquals(ref.scales.toFloats(), got.scales.toFloats());
            }
        }
    }
}
