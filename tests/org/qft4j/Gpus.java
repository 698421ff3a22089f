package org.qft4j;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Test helper for {@link GpuTest}s. */
public final class Gpus {
    private Gpus() {}

    /**
     * Skips the calling test unless cuda:0 is usable; returns it. With the system property
     * {@code qft4j.test.requireGpu=true} (the emulated-GPU run in the pom) an unusable GPU fails the test instead.
     */
    public static Device require() {
        Cuda.Status s = Cuda.status();
        if (Boolean.getBoolean("qft4j.test.requireGpu"))
            assertTrue(s.usable(), () -> "qft4j.test.requireGpu is set but no GPU is usable: " + s.reason());
        assumeTrue(s.usable(), () -> "no usable GPU: " + s.reason());
        return Device.cuda(0);
    }
}
