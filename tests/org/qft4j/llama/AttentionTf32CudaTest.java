package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.assertClose;
import static org.qft4j.llama.device.Close.randn;
import static org.qft4j.llama.device.Close.relativeError;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.llama.device.Fp32Math;

/**
 * The TF32 tensor-core attention kernels (native/cuda/attention_tf32.cu) against the CPU reference of QFT_MATH_TF32,
 * at shapes that cross the 64-row tiles, with grouped kv heads and head sizes padded to 64 and 128.
 *
 * <p>Tolerance: 1e-3 of each output's largest value. Both backends multiply the same TF32 operands wherever the
 * operands are inputs; they differ where the kernel's tiling changes a rounded value: the forward rounds
 * exp(z - running max) per 64-key tile, so for rows whose max arrives in a later tile the rounded probabilities are
 * rescaled by exp(old max - new max) afterwards, a difference of up to 2^-10 relative per term, which then reaches
 * delta and the gradients; fp32 sums in another order add ~1e-6. Measured without a GPU: a numpy model of both
 * arithmetics at these shapes gave at most 2.2e-4 (dq at T 300, hs 16), and the kernels' own code run on the CPU
 * (one thread per CUDA thread, mma.sync computed from the PTX fragment layout) at most 1.7e-4 (dq at T 130, hs 64);
 * a fragment, stride or mask mistake moves outputs by O(1).
 */
@GpuTest
class AttentionTf32CudaTest {
    private static final double REL = 1e-3;
    private static final Device CPU = Device.CPU;
    private static final String[] NAMES = {"lse", "out", "dq", "dk", "dv", "delta"};
    // B, T, heads, kv heads, head size
    private static final int[][] SHAPES = {{2, 7, 6, 2, 6}, {2, 200, 8, 2, 64}, {1, 130, 4, 4, 128}, {1, 65, 6, 3, 48}, {1, 300, 4, 1, 16},
            {1, 129, 2, 2, 100}};

    private static float[][] run(Device d, int[] s, Fp32Math math) {
        int batch = s[0], T = s[1], nh = s[2], nkv = s[3], hs = s[4], n = batch * T;
        float[] q = randn(n * nh * hs, 41, 1), k = randn(n * nkv * hs, 42, 1), v = randn(n * nkv * hs, 43, 1), dout = randn(n * nh * hs, 44, 1);
        return DeviceOpRuns.attention(d, q, k, v, dout, batch, T, nh, nkv, hs, math);
    }

    @Test
    void tensorCoreForwardAndBackwardMatchTheCpuTf32Reference() {
        Device gpu = Gpus.require();
        for (int[] s : SHAPES) {
            float[][] want = run(CPU, s, Fp32Math.TF32), got = run(gpu, s, Fp32Math.TF32);
            for (int i = 0; i < NAMES.length; i++) assertClose(want[i], got[i], REL, NAMES[i] + " at " + Arrays.toString(s));
        }
    }

    /** The CUDA TF32 run really rounds (it is not the SIMT kernels under another name), and gives the same bits twice. */
    @Test
    void tensorCoreResultsDifferFromFp32AndRepeatBitForBit() {
        Device gpu = Gpus.require();
        int[] s = SHAPES[1];
        float[][] fp32 = run(gpu, s, Fp32Math.FP32), tf32 = run(gpu, s, Fp32Math.TF32), again = run(gpu, s, Fp32Math.TF32);
        for (int i = 1; i < NAMES.length; i++) {
            double rel = relativeError(fp32[i], tf32[i]);
            assertTrue(rel > 0x1p-17 && rel < 0x1p-7, NAMES[i] + ": TF32 against FP32 on the GPU moved by " + rel);
        }
        for (int i = 0; i < NAMES.length; i++) assertArrayEquals(tf32[i], again[i], NAMES[i] + ": deterministic");
    }
}
