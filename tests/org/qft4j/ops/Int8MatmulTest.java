package org.qft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.Qft4jException;
import org.qft4j.ops.Int8Matmul.Kernel;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

class Int8MatmulTest {
    static final List<Kernel> CPU_KERNELS = List.of(Kernel.CPU_REF, Kernel.CPU_AVX2, Kernel.CPU_VNNI, Kernel.AUTO);

    static byte[] random(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] x = new byte[n];
        for (int i = 0; i < n; i++) x[i] = (byte) rnd.nextInt(-128, 128);
        return x;
    }

    static byte[] filled(int n, int v) {
        byte[] x = new byte[n];
        Arrays.fill(x, (byte) v);
        return x;
    }

    /** Independent statement of the exact product, in long so that overflow would show. */
    static long[] expected(byte[] a, byte[] b, int m, int n, int k) {
        long[] c = new long[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                long s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
                c[i * n + j] = s;
            }
        return c;
    }

    static List<Kernel> cpuKernels() {
        List<Kernel> ks = new ArrayList<>();
        for (Kernel k : CPU_KERNELS) if (Int8Matmul.hasKernel(Device.CPU, k)) ks.add(k);
        return ks;
    }

    static void checkInt32(byte[] a, byte[] b, int m, int n, int k) {
        long[] want = expected(a, b, m, n, k);
        int[] wantInt = new int[want.length];
        for (int i = 0; i < want.length; i++) wantInt[i] = Math.toIntExact(want[i]);
        try (Tensor ta = Tensor.of(Device.CPU, a, m, k); Tensor tb = Tensor.of(Device.CPU, b, n, k)) {
            for (Kernel kernel : cpuKernels())
                try (Tensor c = Int8Matmul.int32(ta, tb, kernel)) {
                    assertArrayEquals(wantInt, c.toInts(), () -> kernel + " " + Int8Matmul.lastKernel() + " on (" + m + "," + n + "," + k + ")");
                }
        }
    }

    @Test
    void everyCpuKernelIsExactOnRandomShapesWithTails() {
        assertTrue(cpuKernels().contains(Kernel.CPU_AVX2), "this test machine should have AVX2");
        int seed = 0;
        for (int[] s : new int[][] {{1, 1, 1}, {1, 300, 77}, {300, 1, 77}, {7, 5, 3}, {8, 32, 4}, {97, 257, 1025}, {96, 256, 1024},
                {33, 65, 2049}, {5, 3, 4097}}) {
            checkInt32(random(s[0] * s[2], ++seed), random(s[1] * s[2], ++seed), s[0], s[1], s[2]);
        }
    }

    @Test
    void extremesAreExact() {
        int m = 9, n = 35, k = 1029;
        checkInt32(filled(m * k, -128), filled(n * k, -128), m, n, k);
        checkInt32(filled(m * k, 127), filled(n * k, 127), m, n, k);
        checkInt32(filled(m * k, -128), filled(n * k, 127), m, n, k);
        byte[] alt = new byte[m * k];
        for (int i = 0; i < alt.length; i++) alt[i] = (byte) (i % 2 == 0 ? -128 : 127);
        checkInt32(alt, filled(n * k, -128), m, n, k);
    }

    @Test
    void largestExactKReachesTheInt32LimitWithoutOverflow() {
        int k = (int) Int8Matmul.MAX_EXACT_K;
        checkInt32(filled(2 * k, -128), filled(3 * k, -128), 2, 3, k); // 131071 * 16384 = 2^31 - 16384
        checkInt32(random(2 * k, 5), random(3 * k, 6), 2, 3, k);
    }

    @Test
    void int32RejectsKThatCouldOverflow() {
        int k = (int) Int8Matmul.MAX_EXACT_K + 1;
        try (Tensor a = Tensor.of(Device.CPU, new byte[k], 1, k); Tensor b = Tensor.of(Device.CPU, new byte[k], 1, k)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.int32(a, b, Kernel.AUTO));
            assertTrue(e.getMessage().contains("K = 131072"), e.getMessage());
        }
    }

    /** The documented epilogue in fp32 arithmetic: chunks added in fp32, then scales, bias, accumulate. */
    static float[] expectedScaled(byte[] a, byte[] b, int m, int n, int k, float[] rs, float[] cs, float[] bias, float[] y0) {
        float[] y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float s = 0;
                for (int k0 = 0; k0 < k; k0 += k > Int8Matmul.MAX_EXACT_K ? (int) Int8Matmul.K_CHUNK : k) {
                    int k1 = k > Int8Matmul.MAX_EXACT_K ? Math.min(k, k0 + (int) Int8Matmul.K_CHUNK) : k;
                    int acc = 0;
                    for (int p = k0; p < k1; p++) acc += a[i * k + p] * b[j * k + p];
                    s = k0 == 0 ? (float) acc : s + (float) acc;
                }
                float v = s * (rs == null ? 1 : rs[i]) * (cs == null ? 1 : cs[j]);
                if (bias != null) v += bias[j];
                y[i * n + j] = y0 == null ? v : y0[i * n + j] + v;
            }
        return y;
    }

    static float[] scales(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] s = new float[n];
        for (int i = 0; i < n; i++) s[i] = (float) (rnd.nextDouble(1e-4, 1e-2));
        return s;
    }

    @Test
    void scaledOutputFollowsTheEpilogueWithBiasAndAccumulate() {
        int m = 13, n = 70, k = 515;
        byte[] a = random(m * k, 11), b = random(n * k, 12);
        float[] rs = scales(m, 13), cs = scales(n, 14), bias = scales(n, 15), y0 = scales(m * n, 16);
        float[] want = expectedScaled(a, b, m, n, k, rs, cs, bias, y0);
        try (Tensor ta = Tensor.of(Device.CPU, a, m, k); Tensor tb = Tensor.of(Device.CPU, b, n, k); Tensor trs = Tensor.of(Device.CPU, rs, m);
             Tensor tcs = Tensor.of(Device.CPU, cs, n); Tensor tbias = Tensor.of(Device.CPU, bias, n)) {
            for (Kernel kernel : cpuKernels())
                try (Tensor y = Tensor.of(Device.CPU, y0, m, n)) {
                    Int8Matmul.matmulInto(ta, trs, tb, tcs, tbias, y, true, kernel);
                    // The same fp32 operations in the same order: equal bit for bit.
                    assertArrayEquals(want, y.toFloats(), kernel.toString());
                }
            try (Tensor y = Int8Matmul.matmul(ta, null, tb, null, null)) {
                float[] plain = expectedScaled(a, b, m, n, k, null, null, null, null);
                assertArrayEquals(plain, y.toFloats());
            }
        }
    }

    @Test
    void kBeyondTheInt32LimitIsSplitIntoChunksAddedInFp32() {
        int m = 2, n = 3, k = (int) Int8Matmul.MAX_EXACT_K + 1;
        for (byte[][] ab : new byte[][][] {{filled(m * k, -128), filled(n * k, -128)}, {random(m * k, 21), random(n * k, 22)}}) {
            float[] want = expectedScaled(ab[0], ab[1], m, n, k, null, null, null, null);
            long[] exact = expected(ab[0], ab[1], m, n, k);
            try (Tensor ta = Tensor.of(Device.CPU, ab[0], m, k); Tensor tb = Tensor.of(Device.CPU, ab[1], n, k)) {
                for (Kernel kernel : cpuKernels())
                    try (Tensor y = Tensor.zeros(Device.CPU, DType.F32, m, n)) {
                        Int8Matmul.matmulInto(ta, null, tb, null, null, y, false, kernel);
                        float[] got = y.toFloats();
                        assertArrayEquals(want, got, kernel.toString());
                        for (int i = 0; i < got.length; i++) assertEquals(exact[i], got[i], Math.abs(exact[i]) * 2e-7 + 1, "element " + i);
                    }
            }
        }
    }

    @Test
    void bf16OutputIsTheRoundedFp32Output() {
        int m = 5, n = 9, k = 40;
        byte[] a = random(m * k, 31), b = random(n * k, 32);
        float[] rs = scales(m, 33);
        try (Tensor ta = Tensor.of(Device.CPU, a, m, k); Tensor tb = Tensor.of(Device.CPU, b, n, k); Tensor trs = Tensor.of(Device.CPU, rs, m);
             Tensor f = Tensor.zeros(Device.CPU, DType.F32, m, n); Tensor h = Tensor.zeros(Device.CPU, DType.BF16, m, n)) {
            Int8Matmul.matmulInto(ta, trs, tb, null, null, f, false, Kernel.AUTO);
            Int8Matmul.matmulInto(ta, trs, tb, null, null, h, false, Kernel.AUTO);
            float[] want = f.toFloats();
            short[] got = Bf16.read(h);
            for (int i = 0; i < want.length; i++) assertEquals(Bf16.round(want[i]), got[i], "element " + i);
        }
    }

    @Test
    void validationNamesTheShapes() {
        try (Tensor a = Tensor.of(Device.CPU, new byte[6], 2, 3); Tensor b = Tensor.of(Device.CPU, new byte[8], 2, 4);
             Tensor b3 = Tensor.of(Device.CPU, new byte[12], 4, 3); Tensor f = Tensor.of(Device.CPU, new float[6], 2, 3);
             Tensor s3 = Tensor.of(Device.CPU, new float[3], 3); Tensor y = Tensor.zeros(Device.CPU, DType.F32, 3, 4);
             Tensor yi = Tensor.zeros(Device.CPU, DType.I32, 2, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.int32(a, b, Kernel.AUTO));
            assertTrue(e.getMessage().contains("disagree on K: A I8[2, 3] on cpu, B I8[2, 4] on cpu"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.matmul(f, null, b3, null, null));
            assertTrue(e.getMessage().contains("expected I8 tensor, got F32[2, 3]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.matmul(a, s3, b3, null, null));
            assertTrue(e.getMessage().contains("rowScale must be (2), got F32[3]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.matmul(a, null, b3, null, s3));
            assertTrue(e.getMessage().contains("bias must be (4), got F32[3]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.matmulInto(a, null, b3, null, null, y, false, Kernel.AUTO));
            assertTrue(e.getMessage().contains("y must be (2, 4) for A I8[2, 3] on cpu and B I8[4, 3] on cpu, got F32[3, 4]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Int8Matmul.matmulInto(a, null, b3, null, null, yi, false, Kernel.AUTO));
            assertTrue(e.getMessage().contains("y must be F32 or BF16, got I32[2, 4]"), e.getMessage());
            Qft4jException q = assertThrows(Qft4jException.class, () -> Int8Matmul.int32(a, b3, Kernel.CUDA_MMA));
            assertTrue(q.getMessage().contains("CUDA kernel but the tensors are on the CPU"), q.getMessage());
        }
    }

    @Test
    void lastKernelNamesTheKernelThatRan() {
        try (Tensor a = Tensor.of(Device.CPU, random(64, 1), 8, 8); Tensor b = Tensor.of(Device.CPU, random(64, 2), 8, 8)) {
            Int8Matmul.int32(a, b, Kernel.CPU_REF).close();
            assertEquals("cpu-ref", Int8Matmul.lastKernel());
            Int8Matmul.int32(a, b, Kernel.CPU_AVX2).close();
            assertEquals("cpu-avx2-6x16", Int8Matmul.lastKernel());
            assumeTrue(Int8Matmul.hasKernel(Device.CPU, Kernel.CPU_VNNI));
            Int8Matmul.int32(a, b, Kernel.AUTO).close();
            assertEquals("cpu-vnni-8x32", Int8Matmul.lastKernel());
        }
    }

    @Test
    @GpuTest
    void cudaKernelsMatchTheCpuReferenceBitForBit() {
        Device gpu = Gpus.require();
        int seed = 100;
        for (int[] s : new int[][] {{1, 1, 1}, {1, 300, 77}, {300, 1, 77}, {7, 5, 3}, {129, 257, 1000}, {128, 128, 64},
                {256, 384, 4096}, {1000, 700, 4100}, {2, 3, 131071},
                // TMA tails: one 16-byte K box, a partial last 128-byte K box, a row tile past M, odd N
                {1, 1, 16}, {300, 1, 16}, {1, 257, 4112}, {4097, 33, 4112}, {130, 513, 272}}) {
            int m = s[0], n = s[1], k = s[2];
            for (byte[][] ab : new byte[][][] {{random(m * k, ++seed), random(n * k, ++seed)}, {filled(m * k, -128), filled(n * k, -128)}}) {
                float[] rs = scales(m, ++seed), cs = scales(n, ++seed), bias = scales(n, ++seed);
                try (Tensor a = Tensor.of(Device.CPU, ab[0], m, k); Tensor b = Tensor.of(Device.CPU, ab[1], n, k);
                     Tensor trs = Tensor.of(Device.CPU, rs, m); Tensor tcs = Tensor.of(Device.CPU, cs, n); Tensor tb = Tensor.of(Device.CPU, bias, n);
                     Tensor ref = Int8Matmul.int32(a, b, Kernel.CPU_REF); Tensor yref = Tensor.zeros(Device.CPU, DType.F32, m, n);
                     Tensor href = Tensor.zeros(Device.CPU, DType.BF16, m, n);
                     Tensor ga = a.to(gpu); Tensor gb = b.to(gpu); Tensor grs = trs.to(gpu); Tensor gcs = tcs.to(gpu); Tensor gbias = tb.to(gpu)) {
                    Int8Matmul.matmulInto(a, trs, b, tcs, tb, yref, false, Kernel.CPU_REF);
                    Int8Matmul.matmulInto(a, trs, b, tcs, tb, href, false, Kernel.CPU_REF);
                    for (Kernel kernel : List.of(Kernel.CUDA_MMA, Kernel.CUDA_WGMMA, Kernel.CUDA_TMA, Kernel.AUTO)) {
                        if (!Int8Matmul.hasKernel(gpu, kernel)) continue;
                        // AUTO runs one of the three kernels above: the small shapes check its choice and wiring
                        // (the emulated GPU's run time, where each large product takes seconds, stays in bounds).
                        if (kernel == Kernel.AUTO && (long) m * n * k > 10_000_000L) continue;
                        try (Tensor c = Int8Matmul.int32(ga, gb, kernel); Tensor y = Tensor.zeros(gpu, DType.F32, m, n);
                             Tensor h = Tensor.zeros(gpu, DType.BF16, m, n)) {
                            String what = kernel + " " + Int8Matmul.lastKernel() + " on (" + m + "," + n + "," + k + ")";
                            assertArrayEquals(ref.toInts(), c.toInts(), what);
                            Int8Matmul.matmulInto(ga, grs, gb, gcs, gbias, y, false, kernel);
                            assertArrayEquals(yref.toFloats(), y.to(Device.CPU).toFloats(), what);
                            Int8Matmul.matmulInto(ga, grs, gb, gcs, gbias, h, false, kernel);
                            try (Tensor back = h.to(Device.CPU)) {
                                assertArrayEquals(Bf16.read(href), Bf16.read(back), what + " bf16");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    @GpuTest
    void cudaSplitKAndBf16MatchTheCpu() {
        Device gpu = Gpus.require();
        int m = 3, n = 17, k = 2 * (int) Int8Matmul.K_CHUNK + 1000;
        byte[] a = random(m * k, 7), b = random(n * k, 8);
        try (Tensor ta = Tensor.of(Device.CPU, a, m, k); Tensor tb = Tensor.of(Device.CPU, b, n, k); Tensor ga = ta.to(gpu); Tensor gb = tb.to(gpu);
             Tensor yc = Tensor.zeros(Device.CPU, DType.F32, m, n); Tensor yg = Tensor.zeros(gpu, DType.F32, m, n);
             Tensor hc = Tensor.zeros(Device.CPU, DType.BF16, m, n); Tensor hg = Tensor.zeros(gpu, DType.BF16, m, n)) {
            Int8Matmul.matmulInto(ta, null, tb, null, null, yc, false, Kernel.CPU_REF);
            Int8Matmul.matmulInto(ga, null, gb, null, null, yg, false, Kernel.AUTO);
            assertArrayEquals(yc.toFloats(), yg.to(Device.CPU).toFloats());
            Int8Matmul.matmulInto(ta, null, tb, null, null, hc, true, Kernel.CPU_REF);
            Int8Matmul.matmulInto(ga, null, gb, null, null, hg, true, Kernel.AUTO);
            try (Tensor back = hg.to(Device.CPU)) {
                assertArrayEquals(Bf16.read(hc), Bf16.read(back));
            }
        }
    }
}
