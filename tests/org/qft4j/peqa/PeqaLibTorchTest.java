package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qft4j.Device;

/**
 * Scale and input gradients against LibTorch autograd of the same dequantized expression: scales are a
 * requires_grad leaf (rows, groups), What = (s E) * (q - z) with E the (groups, cols) 0/1 group-membership
 * matrix (exact expansion, partial last group included), y = x Whatᵀ, loss = sum(y * r) for a random r.
 */
class PeqaLibTorchTest {
    @ParameterizedTest
    @CsvSource({"4, 24, 256, 128, 19", "4, 9, 200, 64, 5", "3, 17, 130, 0, 8", "3, 12, 300, 128, 33"})
    void scaleAndInputGradientsMatchAutograd(int bits, int rows, int cols, int group, int tokens) {
        float[] w = PeqaReference.gaussian(rows * cols, 21, 0.05);
        float[] x = PeqaReference.gaussian(tokens * cols, 22, 1.0);
        float[] r = PeqaReference.gaussian(tokens * rows, 23, 1.0);
        try (PeqaMatrix m = PeqaMatrix.quantize(Device.CPU, w, rows, cols, bits, group)) {
            int groups = m.groups(), gs = m.weight().groupSize();
            PeqaReference ref = new PeqaReference(w, rows, cols, bits, group);
            float[] membership = new float[groups * cols];
            for (int c = 0; c < cols; c++) membership[(c / gs) * cols + c] = 1;

            Tensor s = torch.tensor(m.scales()).reshape(rows, groups).set_requires_grad(true);
            Tensor xt = torch.tensor(x).reshape(tokens, cols).set_requires_grad(true);
            Tensor u = torch.tensor(ref.shiftedCodes()).reshape(rows, cols);
            Tensor e = torch.tensor(membership).reshape(groups, cols);
            Tensor what = torch.matmul(s, e).mul(u);
            Tensor y = torch.matmul(xt, what.t());
            y.mul(torch.tensor(r).reshape(tokens, rows)).sum().backward();

            float[] yOurs = new float[tokens * rows];
            m.matmul(x, tokens, yOurs);
            assertTrue(relError(yOurs, values(y)) <= 1e-5, "forward");
            m.accumulateGradient(r, x, tokens); // dy = d loss / d y = r
            m.gradientComplete();
            double err = relError(m.scaleGrad(), values(s.grad()));
            assertTrue(err <= 1e-5, "scale gradient relative error " + err);
            float[] dx = new float[tokens * cols];
            m.matmulBackwardInput(r, tokens, dx);
            err = relError(dx, values(xt.grad()));
            assertTrue(err <= 1e-5, "input gradient relative error " + err);
        }
    }

    private static float[] values(Tensor t) {
        Tensor c = t.contiguous();
        float[] out = new float[(int) c.numel()];
        c.data_ptr_float().get(out);
        return out;
    }

    private static double relError(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }
}
