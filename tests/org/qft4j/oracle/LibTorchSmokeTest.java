package org.qft4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** LibTorch (the test oracle) loads on the CPU and computes a matmul. */
class LibTorchSmokeTest {
    @Test
    void libTorchMatmulOnCpu() {
        Tensor a = torch.tensor(new float[] {1, 2, 3, 4, 5, 6}).reshape(2, 3);
        Tensor b = torch.tensor(new float[] {1, 0, 0, 1, 1, 1}).reshape(3, 2);
        Tensor c = torch.matmul(a, b).contiguous();
        float[] out = new float[4];
        c.data_ptr_float().get(out);
        assertArrayEquals(new float[] {4, 5, 10, 11}, out);
    }
}
