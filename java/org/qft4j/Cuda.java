package org.qft4j;

import java.io.File;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.logging.Logger;
import org.bytedeco.javacpp.Loader;
import org.qft4j.nativ.CoreNative;

/**
 * Decides once per JVM whether CUDA is usable: asks the driver for its GPUs (dlopen of libcuda.so.1,
 * no CUDA library needed), chooses the CUDA kernel library built for the first GPU's architecture
 * (classifier jar {@code qft4j-<version>-linux-x86_64-cuda-<target>}), and loads it.
 *
 * <p>The target can be forced with the system property {@code qft4j.cuda.target} or the environment
 * variable {@code QFT4J_CUDA_TARGET}: one of sm80, sm86, sm89, sm90, or "none" to disable CUDA.
 *
 * <p>{@code qft4j.cuda.library} / {@code QFT4J_CUDA_LIBRARY} names a kernel library file to load instead of
 * the classifier jar's: a custom build, or the CUDA-on-CPU emulator's ({@code tests/emu/build-lib.sh}), with
 * which the GPU tests run on a machine without a GPU.
 */
public final class Cuda {
    private static final Logger LOG = Logger.getLogger("org.qft4j");
    /** Targets that have a CUDA library, newest first. */
    public static final List<String> TARGETS = List.of("sm90", "sm89", "sm86", "sm80");

    private static Status status;

    private Cuda() {}

    /** What the probe found; computed on first use. */
    public static synchronized Status status() {
        if (status == null) status = probe();
        return status;
    }

    static void require(int ordinal) {
        Status s = status();
        if (!s.usable())
            throw new Qft4jException(NativeStatus.ENODEV, "cuda:" + ordinal + " is not usable: " + s.reason(), null);
        if (ordinal >= s.gpus().size())
            throw new Qft4jException(NativeStatus.ENODEV,
                    "cuda:" + ordinal + " does not exist: the driver reports " + s.gpus().size() + " GPU(s)", null);
    }

    /**
     * The CUDA library target for a compute capability, or null when qft4j has none (below 8.0:
     * the INT8 tensor-core kernels need Ampere's mma.sync). Newer GPUs than Hopper run the sm90
     * library's PTX through the driver's JIT.
     */
    public static String targetFor(int major, int minor) {
        if (major >= 9) return "sm90";
        if (major == 8 && minor >= 9) return "sm89";
        if (major == 8 && minor >= 6) return "sm86";
        if (major == 8) return "sm80";
        return null;
    }

    static String requestedTarget() {
        String p = System.getProperty("qft4j.cuda.target");
        if (p == null || p.isBlank()) p = System.getenv("QFT4J_CUDA_TARGET");
        return p == null || p.isBlank() ? null : p.trim().toLowerCase(Locale.ROOT);
    }

    static String libraryOverride() {
        String p = System.getProperty("qft4j.cuda.library");
        if (p == null || p.isBlank()) p = System.getenv("QFT4J_CUDA_LIBRARY");
        return p == null || p.isBlank() ? null : p.trim();
    }

    static String resourcePath(String target) {
        return "/org/qft4j/nativ/" + Loader.getPlatform() + "-cuda-" + target + "/libqft4j_cuda.so";
    }

    private static Status probe() {
        try {
            Natives.load(CoreNative.class);
        } catch (Qft4jException e) {
            return Status.unusable(0, List.of(), null, e.getMessage());
        }
        String requested = requestedTarget();
        if ("none".equals(requested) || "off".equals(requested))
            return Status.unusable(0, List.of(), null, "CUDA disabled by qft4j.cuda.target / QFT4J_CUDA_TARGET=none");
        int[] count = new int[1];
        int[] driver = new int[1];
        if (CoreNative.qft_cuda_probe(count, driver) != NativeStatus.OK)
            return Status.unusable(0, List.of(), null, CoreNative.qft_last_error());
        List<GpuInfo> gpus = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) gpus.add(deviceInfo(i));
        if (gpus.isEmpty()) return Status.unusable(driver[0], gpus, null, "the NVIDIA driver reports no GPU");
        GpuInfo first = gpus.get(0);
        String target = requested != null ? requested : targetFor(first.ccMajor(), first.ccMinor());
        if (target == null)
            return Status.unusable(driver[0], gpus, null, first.name() + " has compute capability " + first.ccMajor()
                    + "." + first.ccMinor() + "; qft4j's CUDA kernels need 8.0 or newer (Ampere, Ada, Hopper)");
        if (!TARGETS.contains(target))
            return Status.unusable(driver[0], gpus, target, "unknown CUDA target '" + target + "' (known: " + TARGETS + ")");
        String override = libraryOverride();
        if (override != null) return open(driver[0], gpus, target, new File(override));
        URL url = Cuda.class.getResource(resourcePath(target));
        if (url == null)
            return Status.unusable(driver[0], gpus, target, "no qft4j CUDA library for " + target
                    + " on the classpath: add the dependency org.qft4j:qft4j with classifier "
                    + Loader.getPlatform() + "-cuda-" + target);
        try {
            return open(driver[0], gpus, target, Loader.cacheResource(url));
        } catch (Exception e) {
            return Status.unusable(driver[0], gpus, target, "cannot extract " + url + ": " + e);
        }
    }

    static Status open(int driver, List<GpuInfo> gpus, String target, File lib) {
        if (!lib.isFile())
            return Status.unusable(driver, gpus, target, "CUDA library " + lib + " (qft4j.cuda.library) does not exist");
        if (CoreNative.qft_cuda_open(lib.getAbsolutePath()) != NativeStatus.OK)
            return Status.unusable(driver, gpus, target, CoreNative.qft_last_error());
        Status s = new Status(driver, gpus, target, CoreNative.qft_cuda_library_info(), lib.getAbsolutePath(), null);
        LOG.fine(() -> "qft4j CUDA library loaded: " + s.libraryInfo());
        return s;
    }

    private static GpuInfo deviceInfo(int ordinal) {
        int[] major = new int[1], minor = new int[1], sms = new int[1];
        long[] bytes = new long[1];
        byte[] name = new byte[256];
        NativeStatus.check(CoreNative.qft_cuda_device_info(ordinal, major, minor, bytes, sms, name, name.length),
                "reading cuda:" + ordinal);
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        return new GpuInfo(ordinal, new String(name, 0, len, StandardCharsets.UTF_8), major[0], minor[0], bytes[0], sms[0]);
    }

    /** Outcome of the CUDA probe. {@link #reason()} says why CUDA is unusable, or is null when it is usable. */
    public static final class Status {
        private final int driverVersion;
        private final List<GpuInfo> gpus;
        private final String target;
        private final String libraryInfo;
        private final String libraryPath;
        private final String reason;

        Status(int driverVersion, List<GpuInfo> gpus, String target, String libraryInfo, String libraryPath, String reason) {
            this.driverVersion = driverVersion;
            this.gpus = Collections.unmodifiableList(new ArrayList<>(gpus));
            this.target = target;
            this.libraryInfo = libraryInfo;
            this.libraryPath = libraryPath;
            this.reason = reason;
        }

        static Status unusable(int driverVersion, List<GpuInfo> gpus, String target, String reason) {
            return new Status(driverVersion, gpus, target, null, null, reason);
        }

        public boolean usable() { return reason == null; }
        /** CUDA's encoding (13000 = 13.0); 0 when no driver was found. */
        public int driverVersion() { return driverVersion; }
        public List<GpuInfo> gpus() { return gpus; }
        /** The chosen CUDA library target (sm80, sm86, sm89, sm90), or null. */
        public String target() { return target; }
        public String libraryInfo() { return libraryInfo; }
        public String libraryPath() { return libraryPath; }
        public String reason() { return reason; }

        public String driverVersionText() {
            return driverVersion == 0 ? "none" : (driverVersion / 1000) + "." + (driverVersion % 1000) / 10;
        }
    }
}
