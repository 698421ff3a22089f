package org.qft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.Qft4jException;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

class Int8OperandsTest {
    static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
        return t;
    }

    @Test
    void columnsQuantizeLikeRowsOfTheTranspose() {
        int rows = 29, cols = 67;
        float[] x = QuantizeTest.random(rows * cols, 3);
        byte[] q = new byte[x.length];
        float[] s = new float[cols];
        QuantizeTest.expected(transpose(x, rows, cols), cols, rows, q, s);
        try (Tensor t = Tensor.of(Device.CPU, x, rows, cols); Quantize.Rows got = Int8Operands.colsTransposed(t)) {
            assertArrayEquals(new long[] {cols, rows}, got.codes.shape());
            assertArrayEquals(q, got.codes.toBytes());
            assertArrayEquals(s, got.scales.toFloats());
        }
    }

    @Test
    void rowsFoldTheColumnMultiplierAndEqualPlainRowsWithoutIt() {
        int rows = 11, cols = 40;
        float[] x = QuantizeTest.random(rows * cols, 4), mul = new float[cols], xm = new float[x.length];
        for (int c = 0; c < cols; c++) mul[c] = 0.01f * (c + 1);
        for (int i = 0; i < x.length; i++) xm[i] = x[i] * mul[i % cols];
        byte[] q = new byte[x.length];
        float[] s = new float[rows];
        QuantizeTest.expected(xm, rows, cols, q, s);
        try (Tensor t = Tensor.of(Device.CPU, x, rows, cols); Tensor m = Tensor.of(Device.CPU, mul, cols);
             Quantize.Rows got = Int8Operands.rows(t, m); Quantize.Rows plain = Int8Operands.rows(t, null);
             Quantize.Rows ref = Quantize.rowsAbsmax(t)) {
            assertArrayEquals(q, got.codes.toBytes());
            assertArrayEquals(s, got.scales.toFloats());
            assertArrayEquals(ref.codes.toBytes(), plain.codes.toBytes());
            assertArrayEquals(ref.scales.toFloats(), plain.scales.toFloats());
        }
    }

    @Test
    void bf16InputQuantizesItsFp32Value() {
        int rows = 6, cols = 10;
        float[] x = QuantizeTest.random(rows * cols, 5);
        short[] h = new short[x.length];
        float[] widened = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            h[i] = Bf16.round(x[i]);
            widened[i] = Bf16.toFloat(h[i]);
        }
        try (Tensor hb = Bf16.of(Device.CPU, h, rows, cols); Tensor f = Tensor.of(Device.CPU, widened, rows, cols);
             Quantize.Rows a = Int8Operands.rows(hb, null); Quantize.Rows b = Int8Operands.rows(f, null);
             Quantize.Rows c = Int8Operands.colsTransposed(hb); Quantize.Rows d = Int8Operands.colsTransposed(f)) {
            assertArrayEquals(b.codes.toBytes(), a.codes.toBytes());
            assertArrayEquals(b.scales.toFloats(), a.scales.toFloats());
            assertArrayEquals(d.codes.toBytes(), c.codes.toBytes());
            assertArrayEquals(d.scales.toFloats(), c.scales.toFloats());
        }
    }

    @Test
    void transposeAndErrors() {
        byte[] x = Int8MatmulTest.random(3 * 70, 9);
        try (Tensor t = Tensor.of(Device.CPU, x, 3, 70); Tensor tt = Int8Operands.transpose(t)) {
            byte[] got = tt.toBytes();
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 70; c++) assertEquals(x[r * 70 + c], got[c * 3 + r]);
        }
        float[] bad = new float[12];
        bad[5] = Float.NaN;
        try (Tensor t = Tensor.of(Device.CPU, bad, 3, 4); Tensor i = Tensor.zeros(Device.CPU, DType.I32, 2, 2)) {
            Qft4jException e = assertThrows(Qft4jException.class, () -> Int8Operands.colsTransposed(t));
            assertTrue(e.getMessage().contains("1 of 4 columns of x (3, 4) hold NaN/Inf"), e.getMessage());
            IllegalArgumentException ie = assertThrows(IllegalArgumentException.class, () -> Int8Operands.rows(i, null));
            assertTrue(ie.getMessage().contains("x must be F32 or BF16, got I32[2, 2]"), ie.getMessage());
        }
    }

    /** The three matmuls of y = x Wᵀ in INT8 agree with fp32 to quantization accuracy. */
    @Test
    void allThreeLinearLayerMatmulsRunInInt8() {
        int t = 64, in = 48, out = 40;
        float[] x = QuantizeTest.random(t * in, 1), w = QuantizeTest.random(out * in, 2), dy = QuantizeTest.random(t * out, 3);
        Device d = Device.CPU;
        try (Tensor tx = Tensor.of(d, x, t, in); Tensor tw = Tensor.of(d, w, out, in); Tensor tdy = Tensor.of(d, dy, t, out);
             Quantize.Rows qw = Quantize.rowsAbsmax(tw); Quantize.Rows qx = Int8Operands.rows(tx, null);
             Tensor y = Int8Matmul.matmul(qx.codes, qx.scales, qw.codes, qw.scales, null);
             Quantize.Rows qdy = Int8Operands.rows(tdy, qw.scales); Tensor wt = Int8Operands.transpose(qw.codes);
             Tensor dx = Int8Matmul.matmul(qdy.codes, qdy.scales, wt, null, null);
             Quantize.Rows qdyT = Int8Operands.colsTransposed(tdy); Quantize.Rows qxT = Int8Operands.colsTransposed(tx);
             Tensor dw = Int8Matmul.matmul(qdyT.codes, qdyT.scales, qxT.codes, qxT.scales, null)) {
            assertClose(matmul(x, w, t, in, out), y.toFloats(), "Y = X Wᵀ");
            assertClose(matmul(dy, transpose(w, out, in), t, out, in), dx.toFloats(), "dX = dY W");
            assertClose(matmul(transpose(dy, t, out), transpose(x, t, in), out, t, in), dw.toFloats(), "dW = dYᵀ X");
        }
    }

    /** C = A Bᵀ in double: A (m,k), B (n,k). */
    static float[] matmul(float[] a, float[] b, int m, int k, int n) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * b[j * k + p];
                c[i * n + j] = (float) s;
            }
        return c;
    }

    static void assertClose(float[] want, float[] got, String what) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (want[i] - got[i]) * (double) (want[i] - got[i]);
            den += want[i] * (double) want[i];
        }
        double rel = Math.sqrt(num / den);
        assertTrue(rel < 0.02, what + ": relative error " + rel);
    }

    @Test
    @GpuTest
    void cudaOperandsMatchTheCpuBitForBit() {
        Device gpu = Gpus.require();
        for (int[] s : new int[][] {{1, 1}, {33, 257}, {300, 1030}}) {
            float[] x = QuantizeTest.random(s[0] * s[1], s[1]);
            float[] mul = QuantizeTest.random(s[1], 77);
            try (Tensor c = Tensor.of(Device.CPU, x, s[0], s[1]); Tensor g = c.to(gpu); Tensor mc = Tensor.of(Device.CPU, mul, s[1]);
                 Tensor mg = mc.to(gpu)) {
                for (boolean cols : List.of(false, true))
                    try (Quantize.Rows ref = cols ? Int8Operands.colsTransposed(c) : Int8Operands.rows(c, mc);
                         Quantize.Rows got = cols ? Int8Operands.colsTransposed(g) : Int8Operands.rows(g, mg);
                         Tensor gc = got.codes.to(Device.CPU); Tensor gs = got.scales.to(Device.CPU)) {
                        assertArrayEquals(ref.codes.toBytes(), gc.toBytes());
                        assertArrayEquals(ref.scales.toFloats(), gs.toFloats());
                    }
                try (Tensor q = Tensor.of(Device.CPU, Int8MatmulTest.random(s[0] * s[1], 5), s[0], s[1]); Tensor qg = q.to(gpu);
                     Tensor tc = Int8Operands.transpose(q); Tensor tg = Int8Operands.transpose(qg); Tensor back = tg.to(Device.CPU)) {
                    assertArrayEquals(tc.toBytes(), back.toBytes());
                }
            }
        }
    }
}
