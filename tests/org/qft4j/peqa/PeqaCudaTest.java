package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;

/** The CUDA kernels against the CPU path: GEMV (<= 8 tokens) and tiled GEMM regimes, partial groups and tiles. */
@GpuTest
class PeqaCudaTest {
    @ParameterizedTest
    @CsvSource({"4, 37, 515, 128, 1", "4, 64, 256, 64, 8", "4, 130, 300, 0, 9", "3, 37, 515, 128, 3",
                "3, 200, 1000, 256, 130", "3, 5, 7, 3, 70", "4, 96, 4096, 128, 16"})
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
            assertTrue(PeqaReference.relError(yg, PeqaReference.toDouble(yc)) < 1e-5, "forward");
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
}
