package org.qft4j.qft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.Qft4jException;
import org.qft4j.nativ.QftNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/** qft_hybrid_sparse_transpose: Sᵀ of a CSR row range, against the transpose of the dense matrix. */
class SparseTransposeTest {
    static {
        Natives.load(QftNative.class);
    }

    /** A (rows, cols) CSR with ascending columns in each row, and the dense matrix it holds (mask marks the entries). */
    record Csr(int rows, int cols, int[] rowPtr, int[] colIdx, float[] values, boolean[] mask, float[] dense) {
        int nnz(int r0, int n) { return rowPtr[r0 + n] - rowPtr[r0]; }
    }

    /** Sᵀ: (cols+1) row pointers, (nnz) rows, (nnz) values. */
    record Transposed(int[] ptr, int[] idx, float[] values) {}

    /**
     * Entries at rate density; every row holds column full when full >= 0; rows r with r % emptyEvery == 0 hold nothing
     * when emptyEvery > 0 (they win over full).
     */
    static Csr random(int rows, int cols, double density, int full, int emptyEvery, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        boolean[] mask = new boolean[rows * cols];
        float[] dense = new float[rows * cols];
        int[] rowPtr = new int[rows + 1];
        List<Integer> idx = new ArrayList<>();
        List<Float> val = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            boolean empty = emptyEvery > 0 && r % emptyEvery == 0;
            for (int c = 0; c < cols && !empty; c++) {
                if (c != full && rnd.nextDouble() >= density) continue;
                float v = (float) rnd.nextGaussian();
                mask[r * cols + c] = true;
                dense[r * cols + c] = v;
                idx.add(c);
                val.add(v);
            }
            rowPtr[r + 1] = idx.size();
        }
        float[] values = new float[val.size()];
        for (int i = 0; i < values.length; i++) values[i] = val.get(i);
        return new Csr(rows, cols, rowPtr, idx.stream().mapToInt(Integer::intValue).toArray(), values, mask, dense);
    }

    /** Sᵀ of rows [r0, r0 + n) read off the dense matrix column by column. */
    static Transposed expected(Csr s, int r0, int n) {
        int[] ptr = new int[s.cols + 1];
        int[] idx = new int[s.nnz(r0, n)];
        float[] values = new float[idx.length];
        int k = 0;
        for (int c = 0; c < s.cols; c++) {
            for (int r = r0; r < r0 + n; r++)
                if (s.mask[r * s.cols + c]) {
                    idx[k] = r - r0;
                    values[k++] = s.dense[r * s.cols + c];
                }
            ptr[c + 1] = k;
        }
        return new Transposed(ptr, idx, values);
    }

    /** The native op on device d over rows [r0, r0 + n) of s, passed as the row_ptr offset to r0 like QftLinear does. */
    static Transposed transpose(Device d, Csr s, int r0, int n) {
        return transpose(d, s, r0, n, 0, null);
    }

    /**
     * As {@link #transpose(Device, Csr, int, int)} with an nnz bound (0: none) and, when bad is not null, a device counter
     * of offences (its final value lands in bad[0]); the outputs are sized for the bound, the result cut to the range's nnz.
     */
    static Transposed transpose(Device d, Csr s, int r0, int n, int bound, int[] bad) {
        int m = s.nnz(r0, n), room = Math.max(1, Math.max(m, bound));
        try (Tensor p = Tensor.of(d, s.rowPtr, s.rowPtr.length); Tensor ci = Tensor.of(d, s.colIdx, s.colIdx.length);
             Tensor v = Tensor.of(d, s.values, s.values.length); Tensor tp = Tensor.empty(d, DType.I32, s.cols + 1L);
             Tensor ti = Tensor.empty(d, DType.I32, room); Tensor tv = Tensor.empty(d, DType.F32, room);
             Tensor counter = Tensor.zeros(d, DType.I32, 1)) {
            NativeStatus.check(QftNative.qft_hybrid_sparse_transpose(d.nativeId(), n, s.cols, p.address() + 4L * r0, ci.address(),
                    v.address(), tp.address(), ti.address(), tv.address(), bound, bad == null ? 0L : counter.address()),
                    "transpose of rows [" + r0 + ", " + (r0 + n) + ") of " + s.rows + "x" + s.cols);
            if (bad != null) bad[0] = counter.toInts()[0];
            return new Transposed(tp.toInts(), Arrays.copyOf(ti.toInts(), m), Arrays.copyOf(tv.toFloats(), m));
        }
    }

    /** The backward's form (the whole CSR's nnz as the bound, a counter) gives the unbounded result and counts nothing. */
    static void assertBoundedFormAgrees(Device d, Case k) {
        int[] bad = {-1};
        assertSame(transpose(Device.CPU, k.s, k.r0, k.n), transpose(d, k.s, k.r0, k.n, k.s.rowPtr[k.s.rows], bad), k.name + ", bounded");
        assertEquals(0, bad[0], k.name + ": offences counted");
    }

    static void assertSame(Transposed want, Transposed got, String what) {
        assertArrayEquals(want.ptr, got.ptr, what + ": t_ptr");
        assertArrayEquals(want.idx, got.idx, what + ": t_idx");
        assertArrayEquals(want.values, got.values, what + ": t_values");
    }

    /** A CSR, a row range of it and a name. */
    record Case(String name, Csr s, int r0, int n) {}

    /** The edge cases every backend must get right (small: the CPU test states Sᵀ from the dense matrix). */
    static List<Case> edgeCases() {
        Csr plain = random(64, 300, 0.05, -1, 0, 1), tall = random(300, 64, 0.1, -1, 7, 2);
        return List.of(
                new Case("no rows", random(0, 5, 0.5, -1, 0, 3), 0, 0),
                new Case("no columns", random(6, 0, 0.5, -1, 0, 4), 0, 6),
                new Case("no entries", random(7, 9, 0, -1, 0, 5), 0, 7),
                new Case("1x1", random(1, 1, 1, -1, 0, 6), 0, 1),
                new Case("plain 64x300", plain, 0, 64),
                new Case("empty rows", tall, 0, 300),
                new Case("a column holding every row", random(200, 40, 0.03, 17, 0, 7), 0, 200),
                new Case("every entry", random(33, 29, 1, -1, 0, 8), 0, 33),
                new Case("row range from row_ptr[0] > 0", plain, 21, 30),
                new Case("row range of empty rows and a tail", tall, 140, 160),
                new Case("empty row range inside", plain, 40, 0));
    }

    @Test
    void cpuIsTheTransposeOfTheDenseMatrix() {
        for (Case k : edgeCases()) {
            if (k.r0 > 0) assertTrue(k.s.rowPtr[k.r0] > 0, k.name + ": row_ptr[0] > 0");
            assertSame(expected(k.s, k.r0, k.n), transpose(Device.CPU, k.s, k.r0, k.n), k.name);
            assertBoundedFormAgrees(Device.CPU, k);
        }
    }

    /** dX += dY·S through qft_hybrid_sparse_add over Sᵀ, against a Java loop summing in the same (row) order. */
    @Test
    void sparseAddOverTheTransposeIsDyTimesS() {
        int rows = 90, cols = 130, tokens = 5, r0 = 17, n = 55;
        Csr s = random(rows, cols, 0.08, 3, 11, 9);
        float[] dy = HybridWeightTest.heavyTailed(tokens * n, 10), dx0 = HybridWeightTest.heavyTailed(tokens * cols, 11);
        Transposed t = transpose(Device.CPU, s, r0, n);
        try (Tensor tp = Tensor.of(Device.CPU, t.ptr, t.ptr.length); Tensor ti = Tensor.of(Device.CPU, t.idx, t.idx.length);
             Tensor tv = Tensor.of(Device.CPU, t.values, t.values.length); Tensor y = Tensor.of(Device.CPU, dy, tokens, n);
             Tensor x = Tensor.of(Device.CPU, dx0, tokens, cols)) {
            NativeStatus.check(QftNative.qft_hybrid_sparse_add(-1, cols, n, tp.address(), ti.address(), tv.address(), y.address(),
                    tokens, x.address()), "sparse add over the transpose");
            float[] dx = x.toFloats();
            for (int tok = 0; tok < tokens; tok++)
                for (int c = 0; c < cols; c++) {
                    float acc = 0f;
                    for (int r = r0; r < r0 + n; r++)
                        if (s.mask[r * cols + c]) acc += s.dense[r * cols + c] * dy[tok * n + r - r0];
                    assertEquals(dx0[tok * cols + c] + acc, dx[tok * cols + c], 0f, "dx[" + tok + ", " + c + "]");
                }
        }
    }

    @Test
    void hybridWeightTransposesTheOutliersOfARowRange() {
        int rows = 50, cols = 70, r0 = 12, n = 25;
        float[] w = HybridWeightTest.heavyTailed(rows * cols, 12);
        try (HybridWeight h = HybridWeight.quantize(w, rows, cols, HybridConfig.outliers(0.05));
             Tensor tp = Tensor.empty(Device.CPU, DType.I32, cols + 1); Tensor ti = Tensor.empty(Device.CPU, DType.I32, h.nnz());
             Tensor tv = Tensor.empty(Device.CPU, DType.F32, h.nnz())) {
            int[] ptr = h.rowPtr().toInts(), idx = h.colIdx().toInts();
            boolean[] mask = new boolean[rows * cols];
            for (int r = 0; r < rows; r++) for (int j = ptr[r]; j < ptr[r + 1]; j++) mask[r * cols + idx[j]] = true;
            float[] dense = new float[rows * cols];
            for (int i = 0; i < dense.length; i++) if (mask[i]) dense[i] = w[i];  // outliers are stored exactly
            Csr s = new Csr(rows, cols, ptr, idx, h.values().toFloats(), mask, dense);
            assertTrue(s.rowPtr[r0] > 0, "the range starts inside the CSR");
            h.transposeOutliers(r0, n, tp, ti, tv);
            int m = s.nnz(r0, n);
            Transposed got = new Transposed(tp.toInts(), Arrays.copyOf(ti.toInts(), m), Arrays.copyOf(tv.toFloats(), m));
            assertSame(expected(s, r0, n), got, "rows [12, 37) of " + h);

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> h.transposeOutliers(40, 11, tp, ti, tv));
            assertTrue(e.getMessage().contains("rows [40, 51) outside [0, 50)"), e.getMessage());
            try (Tensor small = Tensor.empty(Device.CPU, DType.I32, cols)) {
                e = assertThrows(IllegalArgumentException.class, () -> h.transposeOutliers(0, n, small, ti, tv));
                assertTrue(e.getMessage().contains("tPtr must be a I32 tensor on cpu with at least 71 elements"), e.getMessage());
            }
            e = assertThrows(IllegalArgumentException.class, () -> h.transposeOutliers(0, n, tp, tv, tv));
            assertTrue(e.getMessage().contains("tIdx must be a I32 tensor"), e.getMessage());
        }
    }

    /** A corrupt CSR, the row range passed and the message both backends give. */
    record Corrupt(Csr s, int r0, String message) {}

    static List<Corrupt> corruptions() {
        Csr s = random(20, 30, 0.2, -1, 0, 13);
        int[] badCol = s.colIdx.clone(), negCol = s.colIdx.clone(), badPtr = s.rowPtr.clone(), negPtr = s.rowPtr.clone();
        int j = s.rowPtr[9] + 1;  // the second entry of row 9
        badCol[j] = 30;
        negCol[j] = -1;
        badPtr[6] = badPtr[7] + 1;  // row 6 ends before it starts
        negPtr[0] = -4;
        return List.of(
                new Corrupt(new Csr(20, 30, s.rowPtr, badCol, s.values, null, null), 0,
                        "CSR (20, 30): col_idx[" + j + "] = 30 (row 9 of the range) is outside [0, 30)"),
                new Corrupt(new Csr(20, 30, s.rowPtr, negCol, s.values, null, null), 3,
                        "CSR (17, 30): col_idx[" + j + "] = -1 (row 6 of the range) is outside [0, 30)"),
                new Corrupt(new Csr(20, 30, badPtr, s.colIdx, s.values, null, null), 0,
                        "CSR (20, 30): row_ptr decreases at row 6 (" + badPtr[6] + " -> " + badPtr[7] + ")"),
                new Corrupt(new Csr(20, 30, negPtr, s.colIdx, s.values, null, null), 0, "CSR (20, 30): row_ptr[0] = -4 is negative"));
    }

    /** The message without a counter; with one (and a bound), no error and one offence counted. */
    static void assertRejected(Device d, Corrupt k) {
        Qft4jException e = assertThrows(Qft4jException.class, () -> transpose(d, k.s, k.r0, k.s.rows - k.r0), k.message);
        assertTrue(e.getMessage().contains("qft_hybrid_sparse_transpose: " + k.message), e.getMessage());
        int[] bad = {-1};
        transpose(d, k.s, k.r0, k.s.rows - k.r0, k.s.colIdx.length, bad);
        assertEquals(1, bad[0], k.message + ": counted");
    }

    /** A bound below the range's nnz would drop entries: an error naming both. */
    static void assertBoundTooSmallIsRejected(Device d) {
        Csr s = random(20, 30, 0.2, -1, 0, 14);
        int nnz = s.rowPtr[20];
        Qft4jException e = assertThrows(Qft4jException.class, () -> transpose(d, s, 0, 20, nnz - 1, null));
        assertTrue(e.getMessage().contains("CSR (20, 30): the range holds " + nnz + " entries, more than nnz_bound " + (nnz - 1)), e.getMessage());
    }

    @Test
    void corruptInputIsRejectedWithItsPosition() {
        for (Corrupt k : corruptions()) assertRejected(Device.CPU, k);
        assertBoundTooSmallIsRejected(Device.CPU);
        try (Tensor t = Tensor.empty(Device.CPU, DType.I32, 4)) {
            assertEquals(NativeStatus.EINVAL, QftNative.qft_hybrid_sparse_transpose(-1, -1, 3, t.address(), t.address(), t.address(),
                    t.address(), t.address(), t.address(), 0L, 0L));
            assertEquals(NativeStatus.EINVAL, QftNative.qft_hybrid_sparse_transpose(-1, 1, 3, t.address(), 0, t.address(),
                    t.address(), t.address(), t.address(), 0L, 0L));
            assertEquals(NativeStatus.EINVAL, QftNative.qft_hybrid_sparse_transpose(-1, 1, 3, t.address(), t.address(), t.address(),
                    t.address(), t.address(), t.address(), -1L, 0L));
            assertEquals(NativeStatus.EUNSUPPORTED, QftNative.qft_hybrid_sparse_transpose(-1, 1L << 31, 3, t.address(), t.address(),
                    t.address(), t.address(), t.address(), t.address(), 0L, 0L));
        }
    }

    /** The GPU's sort against the CPU's counting sort, bit for bit, on the edge cases and LLaMA-sized weights. */
    @Test
    @GpuTest
    void gpuMatchesTheCpuBitForBit() {
        Device gpu = Gpus.require();
        for (Case k : edgeCases()) {
            assertSame(transpose(Device.CPU, k.s, k.r0, k.n), transpose(gpu, k.s, k.r0, k.n), k.name);
            assertBoundedFormAgrees(gpu, k);
        }
        Csr ffn = random(4096, 11008, 0.01, -1, 0, 20);  // a LLaMA-7B down projection at 1% outliers
        List<Case> big = List.of(
                new Case("4096x11008 at 1%", ffn, 0, 4096),
                new Case("rows [1000, 2500) of 4096x11008", ffn, 1000, 1500),
                new Case("131072x48 at 2%, a full column, empty rows", random(131072, 48, 0.02, 5, 3, 21), 0, 131072),
                new Case("64x32768 at 3%", random(64, 32768, 0.03, -1, 0, 22), 0, 64),
                new Case("512x14336, every row in column 14335", random(512, 14336, 0.01, 14335, 0, 23), 0, 512));
        for (Case k : big) {
            assertSame(transpose(Device.CPU, k.s, k.r0, k.n), transpose(gpu, k.s, k.r0, k.n), k.name);
            assertBoundedFormAgrees(gpu, k);
        }
        for (Corrupt k : corruptions()) assertRejected(gpu, k);
        assertBoundTooSmallIsRejected(gpu);
    }

    /** The backward's outlier part on the GPU end to end: transpose there, then the tiled sparse add (bit-exact with the CPU). */
    @Test
    @GpuTest
    void gpuSparseAddOverTheTransposeMatchesTheCpu() {
        Device gpu = Gpus.require();
        int rows = 4096, cols = 11008, tokens = 70, r0 = 1024, n = 2048;
        Csr s = random(rows, cols, 0.01, -1, 0, 24);
        float[] dy = HybridWeightTest.heavyTailed(tokens * n, 25);
        float[][] dx = new float[2][];
        Device[] devices = {Device.CPU, gpu};
        for (int i = 0; i < 2; i++) {
            Device d = devices[i];
            int m = s.nnz(r0, n);
            try (Tensor p = Tensor.of(d, s.rowPtr, s.rowPtr.length); Tensor ci = Tensor.of(d, s.colIdx, s.colIdx.length);
                 Tensor v = Tensor.of(d, s.values, s.values.length); Tensor tp = Tensor.empty(d, DType.I32, cols + 1L);
                 Tensor ti = Tensor.empty(d, DType.I32, m); Tensor tv = Tensor.empty(d, DType.F32, m);
                 Tensor y = Tensor.of(d, dy, tokens, n); Tensor x = Tensor.zeros(d, DType.F32, tokens, cols)) {
                NativeStatus.check(QftNative.qft_hybrid_sparse_transpose(d.nativeId(), n, cols, p.address() + 4L * r0, ci.address(),
                        v.address(), tp.address(), ti.address(), tv.address(), 0L, 0L), "transpose on " + d);
                NativeStatus.check(QftNative.qft_hybrid_sparse_add(d.nativeId(), cols, n, tp.address(), ti.address(), tv.address(),
                        y.address(), tokens, x.address()), "sparse add on " + d);
                dx[i] = x.toFloats();
            }
        }
        assertArrayEquals(dx[0], dx[1], "dx (70, 11008) from rows [1024, 3072) of 4096x11008");
    }
}
