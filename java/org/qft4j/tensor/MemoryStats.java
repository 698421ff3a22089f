package org.qft4j.tensor;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;

/** Native memory that qft4j holds on one device: live bytes and handles (a leak shows as growth), peak bytes. */
public final class MemoryStats {
    private final long liveBytes;
    private final long liveHandles;
    private final long peakBytes;

    private MemoryStats(long liveBytes, long liveHandles, long peakBytes) {
        this.liveBytes = liveBytes;
        this.liveHandles = liveHandles;
        this.peakBytes = peakBytes;
    }

    public static MemoryStats of(Device device) {
        Natives.load(CoreNative.class);
        long[] b = new long[1], h = new long[1], p = new long[1];
        NativeStatus.check(CoreNative.qft_memory_stats(device.nativeId(), b, h, p), "memory stats of " + device);
        return new MemoryStats(b[0], h[0], p[0]);
    }

    public long liveBytes() { return liveBytes; }
    public long liveHandles() { return liveHandles; }
    public long peakBytes() { return peakBytes; }

    @Override
    public String toString() {
        return liveBytes + " bytes in " + liveHandles + " allocations (peak " + peakBytes + " bytes)";
    }
}
