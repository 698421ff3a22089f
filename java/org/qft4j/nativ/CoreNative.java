package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code native/include/qft4j/core.h}: errors, CPU features, CUDA probe and
 * library loading, memory. Every function returns a qft status; see {@link org.qft4j.NativeStatus}.
 * Load through {@link org.qft4j.Natives}, never directly.
 */
@Platform(include = "qft4j/core.h", link = "qft4j")
public final class CoreNative {
    private CoreNative() {}

    public static native String qft_version();
    public static native String qft_last_error();

    public static native int qft_cpu_features();
    public static native int qft_cpu_threads();
    public static native int qft_set_cpu_threads(int threads);

    public static native int qft_cuda_probe(int[] deviceCount, int[] driverVersion);
    public static native int qft_cuda_device_info(int ordinal, int[] ccMajor, int[] ccMinor,
            @Cast("int64_t*") long[] totalBytes, int[] smCount, @Cast("char*") byte[] name, long nameLen);
    public static native int qft_cuda_open(String libraryPath);
    public static native int qft_cuda_loaded();
    public static native String qft_cuda_library_info();

    public static native int qft_alloc(int device, long bytes, @Cast("int64_t*") long[] outAddr);
    public static native int qft_free(int device, long addr);
    public static native int qft_memset_zero(int device, long addr, long bytes);
    public static native int qft_copy(int dstDevice, long dst, int srcDevice, long src, long bytes);
    public static native int qft_copy_from_host(int device, long dst, @Cast("const void*") byte[] src, long bytes);
    public static native int qft_copy_from_host(int device, long dst, @Cast("const void*") short[] src, long bytes);
    public static native int qft_copy_from_host(int device, long dst, @Cast("const void*") int[] src, long bytes);
    public static native int qft_copy_from_host(int device, long dst, @Cast("const void*") float[] src, long bytes);
    public static native int qft_copy_from_host(int device, long dst, @Cast("const void*") long[] src, long bytes);
    public static native int qft_copy_to_host(int device, @Cast("void*") byte[] dst, long src, long bytes);
    public static native int qft_copy_to_host(int device, @Cast("void*") short[] dst, long src, long bytes);
    public static native int qft_copy_to_host(int device, @Cast("void*") int[] dst, long src, long bytes);
    public static native int qft_copy_to_host(int device, @Cast("void*") float[] dst, long src, long bytes);
    public static native int qft_copy_to_host(int device, @Cast("void*") long[] dst, long src, long bytes);
    public static native int qft_synchronize(int device);
    public static native int qft_memory_stats(int device, @Cast("int64_t*") long[] liveBytes,
            @Cast("int64_t*") long[] liveHandles, @Cast("int64_t*") long[] peakBytes);
}
