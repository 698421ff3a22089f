package org.qft4j;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Test helper for {@link GpuTest}s. */
public final class Gpus {
    private Gpus() {}

    /** Skips the calling test unless cuda:0 is usable; returns it. */
    public static Device require() {
        Cuda.Status s = Cuda.status();
        assumeTrue(s.usable(), () -> "no usable GPU: " + s.reason());
        return Device.cuda(0);
    }
}
