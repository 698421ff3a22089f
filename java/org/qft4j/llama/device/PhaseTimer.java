package org.qft4j.llama.device;

import java.util.EnumMap;
import java.util.Map;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.nativ.CoreNative;

/**
 * Wall-clock split of training steps into phases, for benchmarks. Device work is asynchronous, so every split point
 * waits for the device ({@link CoreNative#qft_synchronize}): attach one to a trainer only in a timing run. Times add
 * up over the steps until {@link #reset()}.
 */
public final class PhaseTimer {
    /** The phases of one step, in order. QUANTIZE: the INT8 gradients and their global norm; OPTIMIZER: clipping and Lion. */
    public enum Phase { FORWARD, BACKWARD, QUANTIZE, OPTIMIZER }

    private final Device device;
    private final Map<Phase, Long> nanos = new EnumMap<>(Phase.class);
    private long last = -1;

    public PhaseTimer(Device device) {
        this.device = device;
        reset();
    }

    public Device device() { return device; }

    /** Waits for the device and starts the clock: the next {@link #lap} measures from here. */
    public void start() {
        sync();
        last = System.nanoTime();
    }

    /** Waits for the device and charges the time since the previous split point to phase. */
    public void lap(Phase phase) {
        if (last < 0) throw new IllegalStateException("PhaseTimer: lap(" + phase + ") before start()");
        sync();
        long now = System.nanoTime();
        nanos.merge(phase, now - last, Long::sum);
        last = now;
    }

    /** Seconds charged to phase since the last reset. */
    public double seconds(Phase phase) {
        return nanos.get(phase) * 1e-9;
    }

    public void reset() {
        for (Phase p : Phase.values()) nanos.put(p, 0L);
        last = -1;
    }

    private void sync() {
        NativeStatus.check(CoreNative.qft_synchronize(device.nativeId()), "synchronizing " + device + " for the phase timer");
    }
}
