package org.qft4j.qft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.tensor.Tensor;

class Int8BlocksTest {
    static float[] gaussian(int n, double sigma, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * sigma);
        return x;
    }

    @Test
    void matchesTheDefinitionForBlocksShortLastBlocksAndRows() {
        int rows = 13, cols = 301;
        float[] x = gaussian(rows * cols, 3, 7);
        for (int c = 0; c < 64; c++) x[2 * cols + c] = 0; // an all-zero block keeps scale 1
        for (int block : new int[] {1, 7, 64, 256, 301, 4096}) {
            for (boolean keep : new boolean[] {false, true}) {
                int nb = (cols + block - 1) / block;
                byte[] q = new byte[x.length];
                float[] s = new float[rows * nb];
                QftReference.quantizeBlocks(x, rows, cols, block, keep, q, s);
                try (Int8Blocks got = Int8Blocks.quantize(x, rows, cols, block, keep)) {
                    assertArrayEquals(q, got.codes().toBytes(), "block " + block);
                    assertArrayEquals(s, got.scales().toFloats(), "block " + block);
                    assertEquals((long) rows * cols + 4L * rows * nb, got.bytes());
                    float[] back = got.dequantizeToArray();
                    for (int i = 0; i < x.length; i++)
                        assertEquals(q[i] * s[(i / cols) * nb + (i % cols) / block], back[i], 0f);
                }
            }
        }
        try (Int8Blocks got = Int8Blocks.quantize(x, rows, cols, 64, false)) {
            assertEquals(1f, got.scales().toFloats()[2 * 5]);
        }
    }

    @Test
    void signIsPreservedForEveryNonzeroValueOnlyWhenAsked() {
        // 1000 next to 1e-3: 1e-3 / (1000/127) rounds to 0; with preserveSign it becomes +-1.
        float[] x = {1000f, 1e-3f, -1e-3f, 0f, -2e-30f, 3.9f, -3.9f, 4.0f};
        try (Int8Blocks plain = Int8Blocks.quantize(x, 1, 8, 8, false); Int8Blocks kept = Int8Blocks.quantize(x, 1, 8, 8, true)) {
            assertArrayEquals(new byte[] {127, 0, 0, 0, 0, 0, 0, 1}, plain.codes().toBytes());
            assertArrayEquals(new byte[] {127, 1, -1, 0, -1, 1, -1, 1}, kept.codes().toBytes());
        }
    }

    @Test
    void nonFiniteBlocksGetNanScalesWithoutFailing() {
        float[] x = gaussian(2 * 16, 1, 3);
        x[5] = Float.NaN;
        x[30] = Float.NEGATIVE_INFINITY;
        try (Int8Blocks q = Int8Blocks.quantize(x, 2, 16, 4, false)) {
            float[] s = q.scales().toFloats();
            assertTrue(Float.isNaN(s[1]) && Float.isNaN(s[7]));
            for (int b : new int[] {0, 2, 3, 4, 5, 6}) assertTrue(Float.isFinite(s[b]), "block " + b);
            assertTrue(q.hasNonFinite());
            q.quantizeFrom(gaussian(32, 1, 4));
            assertFalse(q.hasNonFinite());
        }
    }

    @Test
    void rejectsMismatchedShapes() {
        try (Int8Blocks q = Int8Blocks.zeros(Device.CPU, 4, 8, 4); Tensor x = Tensor.of(Device.CPU, new float[32], 8, 4)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> q.quantizeFrom(x, false));
            assertTrue(e.getMessage().contains("F32[4, 8]"), e.getMessage());
        }
    }

    @Test
    @GpuTest
    void gpuMatchesCpuBitForBit() {
        Device gpu = Gpus.require();
        for (int[] shape : new int[][] {{1, 1}, {3, 31}, {257, 1000}, {64, 4097}}) {
            float[] x = gaussian(shape[0] * shape[1], 2, shape[1]);
            x[x.length / 2] = Float.NaN;
            for (int block : new int[] {32, 256, 5000}) {
                try (Tensor c = Tensor.of(Device.CPU, x, shape[0], shape[1]); Tensor g = c.to(gpu);
                     Int8Blocks ref = Int8Blocks.quantize(c, block, true); Int8Blocks got = Int8Blocks.quantize(g, block, true);
                     Tensor back = got.dequantize(); Tensor refBack = ref.dequantize()) {
                    assertArrayEquals(ref.codes().toBytes(), got.codes().toBytes());
                    assertArrayEquals(ref.scales().toFloats(), got.scales().toFloats());
                    assertArrayEquals(refBack.toFloats(), back.toFloats());
                }
            }
        }
    }
}
