package org.qft4j.qft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.Qft4jException;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

class HybridWeightTest {
    /** Student-t(3)-like heavy tails: a Gaussian divided by a random scale. */
    static float[] heavyTailed(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double chi = 0;
            for (int k = 0; k < 3; k++) chi += Math.pow(rnd.nextGaussian(), 2);
            x[i] = (float) (0.02 * rnd.nextGaussian() / Math.sqrt(chi / 3));
        }
        return x;
    }

    /** Checks the layout of hybrid_weight.h against the original weights w. */
    static void checkLayout(HybridWeight h, float[] w, boolean perRow, int expectedNnz) {
        int rows = h.rows(), cols = h.cols();
        byte[] q = h.codes().toBytes();
        float[] s = h.scales().toFloats();
        int[] ptr = h.rowPtr().toInts(), idx = h.colIdx().toInts();
        float[] v = h.values().toFloats();
        assertEquals(expectedNnz, h.nnz());
        assertEquals(0, ptr[0]);
        assertEquals(expectedNnz, ptr[rows]);
        boolean[] out = new boolean[w.length];
        float minOutlier = Float.POSITIVE_INFINITY;
        for (int r = 0; r < rows; r++) {
            for (int j = ptr[r]; j < ptr[r + 1]; j++) {
                if (j > ptr[r]) assertTrue(idx[j] > idx[j - 1], "column indices ascend in row " + r);
                assertEquals(w[r * cols + idx[j]], v[j], 0f, "outliers are stored exactly");
                out[r * cols + idx[j]] = true;
                minOutlier = Math.min(minOutlier, Math.abs(v[j]));
            }
        }
        float[] deq = new float[w.length];
        h.dequantize(deq);
        for (int r = 0; r < rows; r++) {
            float max = 0, rowMinOut = Float.POSITIVE_INFINITY;
            for (int c = 0; c < cols; c++)
                if (!out[r * cols + c]) max = Math.max(max, Math.abs(w[r * cols + c]));
                else rowMinOut = Math.min(rowMinOut, Math.abs(w[r * cols + c]));
            assertEquals(QftReference.scale(max), s[r], 0f, "row " + r + " scale ignores outliers");
            if (perRow) assertTrue(rowMinOut >= max, "row " + r + " keeps its largest values");
            else assertTrue(minOutlier >= max, "row " + r + ": no dense value exceeds an outlier");
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                if (out[i]) {
                    assertEquals(0, q[i]);
                    assertEquals(w[i], deq[i], 0f);
                } else {
                    assertEquals(QftReference.nearest(w[i], QftReference.inverse(max)), q[i]);
                    assertEquals(q[i] * s[r], deq[i], 0f);
                }
            }
        }
    }

    @Test
    void perTensorOutliersRoundTripThroughCsr() {
        int rows = 37, cols = 515;
        float[] w = heavyTailed(rows * cols, 1);
        try (HybridWeight h = HybridWeight.quantize(w, rows, cols, HybridConfig.DEFAULT)) {
            checkLayout(h, w, false, (int) Math.round(0.01 * rows * cols));
            assertEquals((long) rows * cols + 4L * rows + 4L * (rows + 1) + 8L * h.nnz(), h.bytes());
        }
    }

    @Test
    void perRowOutliersTakeTheSameShareOfEveryRow() {
        int rows = 20, cols = 300;
        float[] w = heavyTailed(rows * cols, 2);
        try (HybridWeight h = HybridWeight.quantize(w, rows, cols, new HybridConfig(0.02, true))) {
            checkLayout(h, w, true, rows * 6);
            int[] ptr = h.rowPtr().toInts();
            for (int r = 0; r < rows; r++) assertEquals(6, ptr[r + 1] - ptr[r]);
        }
    }

    @Test
    void tiesAreBrokenByLowerIndexAndZeroFractionIsPlainAbsmax() {
        float[] w = {1, -3, 3, 2, 3, -1};
        try (HybridWeight h = HybridWeight.quantize(w, 2, 3, HybridConfig.outliers(2 / 6.0))) {
            assertArrayEquals(new int[] {1, 2}, h.colIdx().toInts()); // -3 at 1 and 3 at 2; the 3 at index 4 stays dense
            assertArrayEquals(new int[] {0, 2, 2}, h.rowPtr().toInts());
        }
        float[] x = heavyTailed(8 * 33, 3);
        try (HybridWeight h = HybridWeight.quantize(x, 8, 33, HybridConfig.outliers(0));
             Tensor t = Tensor.of(Device.CPU, x, 8, 33); org.qft4j.ops.Quantize.Rows ref = org.qft4j.ops.Quantize.rowsAbsmax(t)) {
            assertEquals(0, h.nnz());
            assertArrayEquals(ref.codes.toBytes(), h.codes().toBytes());
            assertArrayEquals(ref.scales.toFloats(), h.scales().toFloats());
        }
    }

    @Test
    void reselectionFindsTheOutliersOfTheUpdatedWeights() {
        int rows = 64, cols = 96;
        float[] w = heavyTailed(rows * cols, 4);
        try (HybridWeight h = HybridWeight.quantize(w, rows, cols, HybridConfig.DEFAULT)) {
            float[] before = new float[w.length];
            h.dequantize(before);
            h.reselectOutliers(); // nothing moved: same outliers, same codes
            float[] same = new float[w.length];
            h.dequantize(same);
            assertArrayEquals(before, same);
            // Large steps move weights until other elements are the largest, then re-select.
            try (Int8Blocks g = Int8Blocks.quantize(heavyTailed(rows * cols, 5), rows, cols, 256, false);
                 Int8Blocks m = Int8Blocks.zeros(Device.CPU, rows, cols, 256);
                 QuantLion opt = new QuantLion(Device.CPU, LionConfig.of(0.05f))) {
                for (int s = 0; s < 3; s++) opt.step(List.of(new QuantLion.Param(0, h, g, m)));
            }
            float[] moved = new float[w.length];
            h.dequantize(moved);
            h.reselectOutliers();
            checkLayout(h, moved, false, (int) Math.round(0.01 * rows * cols));
        }
    }

    @Test
    void sparseAddIsTheOutlierPartOfTheMatmul() {
        int rows = 50, cols = 70, tokens = 3;
        float[] w = heavyTailed(rows * cols, 9), x = heavyTailed(tokens * cols, 10);
        try (HybridWeight h = HybridWeight.quantize(w, rows, cols, HybridConfig.outliers(0.05));
             Tensor tx = Tensor.of(Device.CPU, x, tokens, cols); Tensor ty = Tensor.of(Device.CPU, new float[tokens * rows], tokens, rows)) {
            org.qft4j.NativeStatus.check(org.qft4j.nativ.QftNative.qft_hybrid_sparse_add(-1, rows, cols, h.rowPtr().address(),
                    h.colIdx().address(), h.values().address(), tx.address(), tokens, ty.address()), "sparse add");
            int[] ptr = h.rowPtr().toInts(), idx = h.colIdx().toInts();
            boolean[] out = new boolean[w.length];
            for (int r = 0; r < rows; r++) for (int j = ptr[r]; j < ptr[r + 1]; j++) out[r * cols + idx[j]] = true;
            float[] y = ty.toFloats();
            for (int t = 0; t < tokens; t++)
                for (int r = 0; r < rows; r++) {
                    double expect = 0;
                    for (int c = 0; c < cols; c++)
                        if (out[r * cols + c]) expect += (double) w[r * cols + c] * x[t * cols + c];
                    assertEquals(expect, y[t * rows + r], 1e-6, "y[" + t + ", " + r + "]");
                }
        }
    }

    @Test
    void rejectsNonFiniteWeightsAndBadFractions() {
        float[] w = heavyTailed(4 * 4, 6);
        w[13] = Float.NaN;
        Qft4jException e = assertThrows(Qft4jException.class, () -> HybridWeight.quantize(w, 4, 4, HybridConfig.DEFAULT));
        assertTrue(e.getMessage().contains("w (4, 4) holds NaN/Inf at row 3, col 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new HybridConfig(1.5, false));
        try (Tensor t = Tensor.of(Device.CPU, new int[4], 2, 2)) {
            assertThrows(IllegalArgumentException.class, () -> HybridWeight.quantize(t, HybridConfig.DEFAULT));
        }
    }

    @Test
    @GpuTest
    void gpuQuantizeDequantizeAndSparseAddMatchTheCpu() {
        Device gpu = Gpus.require();
        int rows = 300, cols = 1000;
        float[] w = heavyTailed(rows * cols, 7);
        // 9 tokens: the few-token kernel; 130: the tiled one (3 token tiles, a partial one, 4 column chunks,
        // a partial one). 20% outliers put more than a row's 8-outlier window into one chunk (the rest is read from
        // global memory).
        for (int tokens : new int[] {9, 130}) {
            float[] x = heavyTailed(tokens * cols, 8);
            for (HybridConfig cfg : new HybridConfig[] {HybridConfig.DEFAULT, new HybridConfig(0.02, true), new HybridConfig(0.2, false)}) {
                try (Tensor tw = Tensor.of(Device.CPU, w, rows, cols); Tensor gw = tw.to(gpu);
                     HybridWeight c = HybridWeight.quantize(tw, cfg); HybridWeight g = HybridWeight.quantize(gw, cfg);
                     Tensor cd = c.dequantize(); Tensor gd = g.dequantize();
                     Tensor tx = Tensor.of(Device.CPU, x, tokens, cols); Tensor gx = tx.to(gpu);
                     Tensor cy = Tensor.zeros(Device.CPU, DType.F32, tokens, rows); Tensor gy = Tensor.zeros(gpu, DType.F32, tokens, rows)) {
                    assertArrayEquals(c.codes().toBytes(), g.codes().toBytes());
                    assertArrayEquals(c.colIdx().toInts(), g.colIdx().toInts());
                    assertArrayEquals(cd.toFloats(), gd.toFloats());
                    org.qft4j.NativeStatus.check(org.qft4j.nativ.QftNative.qft_hybrid_sparse_add(-1, rows, cols, c.rowPtr().address(),
                            c.colIdx().address(), c.values().address(), tx.address(), tokens, cy.address()), "cpu sparse add");
                    org.qft4j.NativeStatus.check(org.qft4j.nativ.QftNative.qft_hybrid_sparse_add(gpu.nativeId(), rows, cols,
                            g.rowPtr().address(), g.colIdx().address(), g.values().address(), gx.address(), tokens, gy.address()),
                            "gpu sparse add");
                    float[] a = cy.toFloats(), b = gy.toFloats();
                    // The tiled kernel (>= 17 tokens) sums in CSR order like the reference: bit-identical.
                    if (tokens >= 17) assertArrayEquals(a, b, "tokens " + tokens + " " + cfg);
                    for (int i = 0; i < a.length; i++)
                        assertEquals(a[i], b[i], 1e-6f + 1e-5f * Math.abs(a[i]), "tokens " + tokens + " " + cfg + ": y[" + i + "]");
                }
            }
        }
    }

    /** The GPU selection (radix select + ordered compaction) against the CPU's nth_element on the hard cases. */
    @Test
    @GpuTest
    void gpuSelectionMatchesTheCpuOnTiesEdgesAndBadInput() {
        Device gpu = Gpus.require();
        int rows = 257, cols = 1031;
        float[] ties = new float[rows * cols];
        java.util.Random rnd = new java.util.Random(11);
        // Eight magnitudes and both signs: the threshold falls inside a block of equal |w| in every mode.
        for (int i = 0; i < ties.length; i++) {
            ties[i] = (rnd.nextInt(8) - 4) * 0.125f;
            if (ties[i] == 0f && rnd.nextBoolean()) ties[i] = -0f;  // -0 and +0 are the same magnitude
        }
        float[] tailed = heavyTailed(rows * cols, 12);
        HybridConfig[] configs = {new HybridConfig(0.0, false), new HybridConfig(0.01, false), new HybridConfig(0.3, false),
                new HybridConfig(1.0, false), new HybridConfig(0.0, true), new HybridConfig(0.05, true), new HybridConfig(1.0, true)};
        for (float[] w : new float[][] {ties, tailed})
            for (HybridConfig cfg : configs)
                try (Tensor tw = Tensor.of(Device.CPU, w, rows, cols); Tensor gw = tw.to(gpu);
                     HybridWeight c = HybridWeight.quantize(tw, cfg); HybridWeight g = HybridWeight.quantize(gw, cfg)) {
                    String what = cfg + (w == ties ? " ties" : " heavy-tailed");
                    assertArrayEquals(c.rowPtr().toInts(), g.rowPtr().toInts(), what);
                    assertArrayEquals(c.colIdx().toInts(), g.colIdx().toInts(), what);
                    assertArrayEquals(c.values().toFloats(), g.values().toFloats(), what);
                    assertArrayEquals(c.scales().toFloats(), g.scales().toFloats(), what);
                    assertArrayEquals(c.codes().toBytes(), g.codes().toBytes(), what);
                    c.reselectOutliers();
                    g.reselectOutliers();
                    assertArrayEquals(c.colIdx().toInts(), g.colIdx().toInts(), what + " reselected");
                    assertArrayEquals(c.codes().toBytes(), g.codes().toBytes(), what + " reselected");
                }
        tailed[5 * cols + 17] = Float.POSITIVE_INFINITY;
        try (Tensor tw = Tensor.of(Device.CPU, tailed, rows, cols); Tensor gw = tw.to(gpu)) {
            Qft4jException e = assertThrows(Qft4jException.class, () -> HybridWeight.quantize(gw, HybridConfig.DEFAULT));
            assertTrue(e.getMessage().contains("w (257, 1031) holds NaN/Inf at row 5, col 17"), e.getMessage());
        }
    }
}
