package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;

/** End to end: tuning only the scales recovers a layer whose true scales drifted (forward, scale gradient, AdamW). */
class ScaleAdamWTest {
    @Test
    void tuningScalesFitsATeacherWithTheSameCodes() {
        int rows = 24, cols = 96, tokens = 32, bits = 3, group = 32;
        float[] w = PeqaReference.gaussian(rows * cols, 41, 0.1);
        float[] x = PeqaReference.gaussian(tokens * cols, 42, 1.0);
        try (PeqaMatrix student = PeqaMatrix.quantize(Device.CPU, w, rows, cols, bits, group)) {
            // teacher: same codes, scales perturbed by up to +-20 %
            float[] teacherScales = student.scales().clone();
            for (int i = 0; i < teacherScales.length; i++) teacherScales[i] *= 1 + 0.2f * (float) Math.sin(i * 1.7);
            PeqaReference ref = new PeqaReference(w, rows, cols, bits, group);
            double[] target = PeqaReference.matmulT(x, tokens, ref.dequantize(teacherScales), rows, cols);
            ScaleAdamW opt = ScaleAdamW.peqa(List.of(student));
            assertEquals(rows * 3, opt.parameters());
            float[] y = new float[tokens * rows], dy = new float[tokens * rows];
            double first = 0, last = 0;
            for (int it = 0; it < 300; it++) {
                student.matmul(x, tokens, y);
                double loss = 0;
                for (int i = 0; i < y.length; i++) {
                    double d = y[i] - target[i];
                    loss += d * d / y.length;
                    dy[i] = (float) (2 * d / y.length);
                }
                if (it == 0) first = loss;
                last = loss;
                student.accumulateGradient(dy, x, tokens);
                student.gradientComplete();
                opt.step(2e-3f);
            }
            assertTrue(last < first * 1e-3, "loss " + first + " -> " + last);
        }
    }
}
