package org.qft4j;

import java.util.Locale;

/**
 * Where tensors live and ops run: the CPU, or a CUDA GPU by ordinal. Parsed from "cpu", "cuda",
 * "cuda:N" or "auto" (the first GPU when CUDA is usable, else the CPU with one logged warning).
 */
public final class Device {
    public static final Device CPU = new Device(-1);

    private final int id;

    private Device(int id) {
        this.id = id;
    }

    public static Device cuda(int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("CUDA ordinal must be >= 0, got " + ordinal);
        return new Device(ordinal);
    }

    /** The best available device: cuda:0 when a GPU and its qft4j CUDA library are usable, else cpu. */
    public static Device auto() {
        Cuda.Status s = Cuda.status();
        if (s.usable()) return cuda(0);
        warnCpuFallback(s.reason());
        return CPU;
    }

    private static boolean warned;

    private static synchronized void warnCpuFallback(String reason) {
        if (warned) return;
        warned = true;
        java.util.logging.Logger.getLogger("org.qft4j").warning("qft4j runs on the CPU: CUDA is unavailable: " + reason);
    }

    public static Device parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) return CPU;
        if (s.equals("auto")) return auto();
        if (s.equals("cuda") || s.equals("gpu")) return cuda(0);
        if (s.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + spec + "': use cpu, cuda, cuda:N or auto");
    }

    public boolean isCpu() {
        return id < 0;
    }

    public boolean isCuda() {
        return id >= 0;
    }

    /** The device id of the native ABI: -1 for the CPU, the CUDA ordinal otherwise. */
    public int nativeId() {
        return id;
    }

    /** Throws with the reason when this device cannot run ops in this JVM. */
    public Device requireUsable() {
        Natives.load(org.qft4j.nativ.CoreNative.class);
        if (isCuda()) Cuda.require(id);
        return this;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device && ((Device) o).id == id;
    }

    @Override
    public int hashCode() {
        return id;
    }

    @Override
    public String toString() {
        return isCpu() ? "cpu" : "cuda:" + id;
    }
}
