package org.qft4j.tensor;

import java.util.function.IntConsumer;
import org.qft4j.Device;

/**
 * Test utility: asserts that an action leaves native memory flat. The action runs {@code warmup}
 * times (first-use caches may allocate once), then the live bytes and handles on the device become
 * the baseline, and after each of {@code iterations} further runs they must equal it again. A leak
 * fails at the first iteration that left memory behind, with the growth and the rate, instead of
 * only at the end of a long run. Used by the trainer's 10,000-step leak test.
 */
public final class LeakCheck {
    /** What a passing check saw: the baseline and the highest peak on the device during the run. */
    public static final class Report {
        public final long baselineBytes, baselineHandles, peakBytes;
        public final int iterations;

        Report(long baselineBytes, long baselineHandles, long peakBytes, int iterations) {
            this.baselineBytes = baselineBytes;
            this.baselineHandles = baselineHandles;
            this.peakBytes = peakBytes;
            this.iterations = iterations;
        }

        @Override
        public String toString() {
            return iterations + " iterations flat at " + baselineBytes + " bytes in " + baselineHandles + " allocations (peak " + peakBytes + ")";
        }
    }

    private LeakCheck() {}

    /** Runs {@code action.accept(i)} for i in [0, warmup + iterations) and asserts flat native memory after the warmup. */
    public static Report assertFlat(Device device, int warmup, int iterations, IntConsumer action) {
        for (int i = 0; i < warmup; i++) action.accept(i);
        MemoryStats base = MemoryStats.of(device);
        long peak = base.peakBytes();
        for (int i = 0; i < iterations; i++) {
            action.accept(warmup + i);
            MemoryStats now = MemoryStats.of(device);
            peak = Math.max(peak, now.peakBytes());
            long bytes = now.liveBytes() - base.liveBytes(), handles = now.liveHandles() - base.liveHandles();
            if (bytes != 0 || handles != 0)
                throw new AssertionError(String.format("native memory on %s not flat after iteration %d of %d: %+d bytes, %+d allocations "
                        + "(%.1f bytes per iteration); baseline %s, now %s", device, i + 1, iterations, bytes, handles,
                        bytes / (double) (i + 1), base, now));
        }
        return new Report(base.liveBytes(), base.liveHandles(), peak, iterations);
    }
}
