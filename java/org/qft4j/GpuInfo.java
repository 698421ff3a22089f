package org.qft4j;

import java.util.Locale;

/** One CUDA device as the driver reports it. */
public final class GpuInfo {
    private final int ordinal;
    private final String name;
    private final int ccMajor;
    private final int ccMinor;
    private final long totalBytes;
    private final int smCount;

    public GpuInfo(int ordinal, String name, int ccMajor, int ccMinor, long totalBytes, int smCount) {
        this.ordinal = ordinal;
        this.name = name;
        this.ccMajor = ccMajor;
        this.ccMinor = ccMinor;
        this.totalBytes = totalBytes;
        this.smCount = smCount;
    }

    public int ordinal() { return ordinal; }
    public String name() { return name; }
    public int ccMajor() { return ccMajor; }
    public int ccMinor() { return ccMinor; }
    public long totalBytes() { return totalBytes; }
    public int smCount() { return smCount; }

    /** "sm_90" style name of the compute capability. */
    public String smName() {
        return "sm_" + ccMajor + ccMinor;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "cuda:%d %s (%s, %d SMs, %.1f GiB)", ordinal, name, smName(), smCount,
                totalBytes / (double) (1L << 30));
    }
}
