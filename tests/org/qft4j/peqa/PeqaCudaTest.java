package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;

/**
 * The CUDA kernels against the CPU path: GEMV (<= 8 tokens, fp32) and tensor-core (> 8 tokens, 32x64 and 128x128
 * tiles) forward regimes, partial groups and tiles, groups narrower than a code word, columns not a multiple of 4.
 */
@GpuTest
class PeqaCudaTest {
    /** Tokens up to which the forward runs the fp32 GEMV (native/cuda/peqa_matmul.cu); above, bf16 tensor cores. */
    static final int GEMV_TOKENS = 8;

    @ParameterizedTest
    @CsvSource({"4, 37, 515, 128, 1", "4, 64, 256, 64, 8", "4, 130, 300, 0, 9", "3, 37, 515, 128, 3",
                "3, 200, 1000, 256, 130", "3, 5, 7, 3, 70", "4, 96, 4096, 128, 16",
                "3, 40, 100, 5, 4", "4, 33, 2100, 64, 2"})
    void cudaMatchesCpu(int bits, int rows, int cols, int group, int tokens) {
        Device gpu = Gpus.require();
        float[] w = PeqaReference.gaussian(rows * cols, rows * 7L + cols, 0.05);
        float[] x = PeqaReference.gaussian(tokens * cols, 31, 1.0);
        float[] dy = PeqaReference.gaussian(tokens * rows, 32, 1.0);
        try (PeqaMatrix c = PeqaMatrix.quantize(Device.CPU, w, rows, cols, bits, group);
             PeqaMatrix g = PeqaMatrix.quantize(gpu, w, rows, cols, bits, group)) {
            assertArrayEquals(c.weight().dequantize(), g.weight().dequantize());
            float[] yc = new float[tokens * rows], yg = new float[tokens * rows];
            c.matmul(x, tokens, yc);
            g.matmul(x, tokens, yg);
            if (tokens <= GEMV_TOKENS) assertTrue(PeqaReference.relError(yg, PeqaReference.toDouble(yc)) < 1e-5, "forward");
            else assertWithinBf16Bound(yg, yc, x, c.weight().dequantize(), tokens, rows, cols);
            float[] dxc = PeqaReference.gaussian(tokens * cols, 33, 1.0), dxg = dxc.clone();
            c.matmulBackwardInput(dy, tokens, dxc);
            g.matmulBackwardInput(dy, tokens, dxg);
            assertTrue(PeqaReference.relError(dxg, PeqaReference.toDouble(dxc)) < 1e-5, "backward input");
            c.accumulateGradient(dy, x, tokens);
            g.accumulateGradient(dy, x, tokens);
            c.gradientComplete();
            g.gradientComplete();
            assertTrue(PeqaReference.relError(g.scaleGrad(), PeqaReference.toDouble(c.scaleGrad())) < 1e-5, "scale gradient");
        }
    }

    /**
     * The tensor-core forward rounds x and What to bf16 (unit roundoff u = 2^-8) and multiplies and sums in fp32, so per
     * output |y_gpu - y_exact| <= (2u + u^2) S + cols 2^-24 S with S = sum_c |x[t,c] What[r,c]| (the second term bounds
     * an fp32 sum of cols terms, GPU's and CPU's alike, so it appears twice against the CPU result).
     */
    static void assertWithinBf16Bound(float[] got, float[] cpu, float[] x, float[] what, int tokens, int rows, int cols) {
        double u = Math.scalb(1.0, -8), bound = 2 * u + u * u + 2 * cols * Math.scalb(1.0, -24);
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++) {
                double sum = 0;
                for (int c = 0; c < cols; c++) sum += Math.abs((double) x[t * cols + c] * what[r * cols + c]);
                double err = Math.abs((double) got[t * rows + r] - cpu[t * rows + r]);
                assertTrue(err <= bound * sum, "forward y[" + t + ", " + r + "]: |" + got[t * rows + r] + " - " + cpu[t * rows + r]
                        + "| > " + bound + " * " + sum);
            }
    }

    /**
     * bf16-exact operands (x = i/4 with |i| <= 8; weights (q - z0)/16, every group holding q = 0 and q = 2^b - 1 so that RTN
     * gives s = 1/16 and z = z0 exactly) make every product and partial sum exact in fp32 on both sides: the GPU must
     * equal the CPU bit for bit, so a wrong code, group, row or token index cannot hide inside the bf16 tolerance.
     */
    @ParameterizedTest
    @CsvSource({"4, 130, 300, 64, 70", "3, 200, 1000, 128, 130", "3, 37, 515, 128, 9", "4, 96, 4096, 128, 16",
                "3, 64, 700, 5, 100", "4, 50, 302, 64, 5",
                "3, 40, 100, 5, 4", "4, 70, 3000, 128, 7"})
    void forwardIsExactOnBf16RepresentableOperands(int bits, int rows, int cols, int group, int tokens) {
        Device gpu = Gpus.require();
        int max = (1 << bits) - 1, z0 = (1 << (bits - 1)) - 1;
        SplittableRandom rnd = new SplittableRandom(bits * 1000L + cols);
        float[] w = new float[rows * cols], x = new float[tokens * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                int q = c % group == 0 ? 0 : c % group == 1 ? max : rnd.nextInt(max + 1);
                w[r * cols + c] = (q - z0) / 16f;
            }
        for (int i = 0; i < x.length; i++) x[i] = (rnd.nextInt(17) - 8) / 4f;
        try (PeqaMatrix c = PeqaMatrix.quantize(Device.CPU, w, rows, cols, bits, group);
             PeqaMatrix g = PeqaMatrix.quantize(gpu, w, rows, cols, bits, group)) {
            assertArrayEquals(w, c.weight().dequantize(), "the construction is exact");
            float[] yc = new float[tokens * rows], yg = new float[tokens * rows];
            c.matmul(x, tokens, yc);
            g.matmul(x, tokens, yg);
            assertArrayEquals(yc, yg);
        }
    }
}
