package org.qft4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;

class LeakCheckTest {
    @Test
    void anActionThatClosesWhatItAllocatesIsFlat() {
        LeakCheck.Report r = LeakCheck.assertFlat(Device.CPU, 2, 200, i -> {
            try (Scope s = new Scope()) {
                s.add(Tensor.zeros(Device.CPU, DType.F32, 16 + i));
                s.add(Tensor.zeros(Device.CPU, DType.I8, 3));
            }
        });
        assertEquals(200, r.iterations);
        assertTrue(r.peakBytes >= r.baselineBytes + 4 * 16 + 3, r.toString());
    }

    @Test
    void aLeakFailsAtTheFirstIterationThatLeftMemoryBehind() {
        List<Tensor> leaked = new ArrayList<>();
        try {
            AssertionError e = assertThrows(AssertionError.class, () -> LeakCheck.assertFlat(Device.CPU, 1, 100, i -> {
                Tensor t = Tensor.zeros(Device.CPU, DType.I8, 10);
                if (i == 3) leaked.add(t);
                else t.close();
            }));
            assertTrue(e.getMessage().startsWith("native memory on " + Device.CPU + " not flat after iteration 3 of 100: +10 bytes, +1 allocations"),
                    e.getMessage());
        } finally {
            leaked.forEach(Tensor::close);
        }
    }
}
