package org.qft4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.Loader;
import org.qft4j.nativ.CoreNative;
import org.qft4j.ops.Quantize;
import org.qft4j.tensor.Tensor;

/** What qft4j can use on this machine, and why not where it can't: the body of {@code qft4j diagnose}. */
public final class Diagnostics {
    private static final String[] CPU_FEATURES = {"AVX2", "FMA", "AVX512F", "AVX512BW", "AVX512_VNNI", "AVX_VNNI"};

    private Diagnostics() {}

    /** Lines of the report; a line starting with "!" is a problem for the requested device. */
    public static List<String> report(Device requested) {
        List<String> out = new ArrayList<>();
        out.add("qft4j " + version());
        out.add("JVM: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                + " (" + System.getProperty("java.vendor") + ")");
        out.add("OS: " + System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch") + "; JavaCPP platform " + Loader.getPlatform());
        if (!Natives.available()) {
            try {
                Natives.load(CoreNative.class);
            } catch (Qft4jException e) {
                out.add("! native library: " + e.getMessage());
            }
            return out;
        }
        out.add("native library: libqft4j " + CoreNative.qft_version() + " (classifier " + Loader.getPlatform() + ") from "
                + loadedPath("qft4j"));
        out.add("CPU: " + Runtime.getRuntime().availableProcessors() + " logical cores, " + CoreNative.qft_cpu_threads()
                + " worker threads, features " + cpuFeatures(CoreNative.qft_cpu_features()));
        Cuda.Status cuda = Cuda.status();
        out.add("CUDA driver: " + cuda.driverVersionText());
        for (GpuInfo g : cuda.gpus()) out.add("GPU: " + g + ", compute capability " + g.ccMajor() + "." + g.ccMinor());
        if (cuda.usable()) {
            out.add("CUDA library: " + Loader.getPlatform() + "-cuda-" + cuda.target() + " loaded: " + cuda.libraryInfo());
        } else {
            out.add("CUDA unavailable: " + cuda.reason());
        }
        out.add(selfTest(Device.CPU));
        if (cuda.usable()) for (GpuInfo g : cuda.gpus()) out.add(selfTest(Device.cuda(g.ordinal())));
        Device chosen = cuda.usable() ? Device.cuda(0) : Device.CPU;
        if (requested == null) {
            out.add("device: " + chosen + " (auto)");
        } else {
            try {
                requested.requireUsable();
                out.add("device: " + requested + " (requested)");
            } catch (Qft4jException e) {
                out.add("! device " + requested + " requested but unusable: " + e.getMessage());
            }
        }
        return out;
    }

    /**
     * Runs a native op on {@code device} and compares it with the CPU reference, so the report shows
     * that kernels for this device really execute, not just that a library loaded.
     */
    public static String selfTest(Device device) {
        SplittableRandom rnd = new SplittableRandom(7);
        int rows = 33, cols = 1000;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 3);
        try (Tensor cpuX = Tensor.of(Device.CPU, x, rows, cols); Quantize.Rows ref = Quantize.rowsAbsmax(cpuX);
             Tensor devX = cpuX.to(device); Quantize.Rows got = Quantize.rowsAbsmax(devX)) {
            boolean same = Arrays.equals(ref.codes.toBytes(), got.codes.toBytes())
                    && Arrays.equals(ref.scales.toFloats(), got.scales.toFloats());
            return (same ? "" : "! ") + "self-test on " + device + ": quantize_rows_absmax (" + rows + "x" + cols + ") "
                    + (same ? "matches the CPU reference bit for bit" : "DIFFERS from the CPU reference");
        } catch (RuntimeException e) {
            return "! self-test on " + device + " failed: " + e.getMessage();
        }
    }

    static String cpuFeatures(int bits) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < CPU_FEATURES.length; i++) if ((bits & (1 << i)) != 0) names.add(CPU_FEATURES[i]);
        return names.isEmpty() ? "baseline x86-64 only" : String.join(" ", names);
    }

    static String version() {
        String v = Diagnostics.class.getPackage().getImplementationVersion();
        return v != null ? v : "(development build)";
    }

    private static String loadedPath(String name) {
        for (Map.Entry<String, String> e : Loader.getLoadedLibraries().entrySet())
            if (e.getKey().toLowerCase(Locale.ROOT).contains(name) && e.getValue() != null && e.getValue().contains("lib" + name + "."))
                return e.getValue();
        return "(path unknown)";
    }
}
