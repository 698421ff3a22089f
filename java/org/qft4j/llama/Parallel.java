package org.qft4j.llama;

import java.util.stream.IntStream;

/** Data-parallel loops on the common ForkJoinPool, chunked so that each task carries enough work. */
final class Parallel {
    private Parallel() {}

    interface Range {
        void run(int lo, int hi);
    }

    /** Runs body over [0, n) in chunks; serially when the whole job is below ~32K multiply-adds. */
    static void forRange(int n, long workPerItem, Range body) {
        long total = n * Math.max(1, workPerItem);
        if (n <= 1 || total < (1 << 15)) {
            body.run(0, n);
            return;
        }
        int tasks = (int) Math.min(n, Math.min(4L * Runtime.getRuntime().availableProcessors(), total >> 14));
        int chunk = (n + tasks - 1) / tasks;
        int chunks = (n + chunk - 1) / chunk;
        IntStream.range(0, chunks).parallel().forEach(i -> body.run(i * chunk, Math.min(n, (i + 1) * chunk)));
    }

    /** sum_i a[ao + i] * b[bo + i] for i < n, four accumulators so the JIT can pipeline. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) s0 += a[ao + i] * b[bo + i];
        return (s0 + s1) + (s2 + s3);
    }

    /** y[yo + i] += a * x[xo + i] for i < n. */
    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        for (int i = 0; i < n; i++) y[yo + i] += a * x[xo + i];
    }
}
