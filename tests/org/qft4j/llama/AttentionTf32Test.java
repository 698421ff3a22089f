package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qft4j.llama.device.Close.randn;
import static org.qft4j.llama.device.Close.relativeError;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.Qft4jException;
import org.qft4j.llama.device.DeviceOps;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.nativ.EngineNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/**
 * The CPU reference of QFT_MATH_TF32 attention (the model the CUDA tensor-core kernels are tested against): every
 * factor of every product rounded to TF32 (10 mantissa bits, nearest, ties away), fp32 sums, fp32 softmax.
 */
class AttentionTf32Test {
    private static final Device CPU = Device.CPU;
    private static final String[] NAMES = {"lse", "out", "dq", "dk", "dv", "delta"};
    private static final int BATCH = 2, T = 33, NH = 4, NKV = 2, HS = 16, N = BATCH * T;

    /** cvt.rna.tf32.f32 (native/common/tf32.h), written again from its definition. */
    static float tf32(float x) {
        int u = Float.floatToRawIntBits(x);
        if ((u & 0x7f800000) != 0x7f800000) u = (u + 0x1000) & 0xffffe000;
        return Float.intBitsToFloat(u);
    }

    private static float[] tf32(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = tf32(x[i]);
        return y;
    }

    private static float[][] run(float[][] in, Fp32Math math) {
        return DeviceOpRuns.attention(CPU, in[0], in[1], in[2], in[3], BATCH, T, NH, NKV, HS, math);
    }

    private static float[][] inputs() { // q, k, v, dout
        return new float[][] {randn(N * NH * HS, 31, 1), randn(N * NKV * HS, 32, 1), randn(N * NKV * HS, 33, 1), randn(N * NH * HS, 34, 1)};
    }

    @Test
    void roundingToNearestTf32IsItsOwnFixedPoint() {
        assertEquals(1.0f, tf32(1.0f + 0x0fffp-23f), "below half of the dropped range rounds down");
        assertEquals(1.0f + 0x1p-10f, tf32(1.0f + 0x1000p-23f), "a tie rounds away from zero");
        assertEquals(-1.0f - 0x1p-10f, tf32(-1.0f - 0x1000p-23f), "a negative tie rounds away from zero");
        float[] x = randn(1000, 30, 3);
        assertArrayEquals(tf32(x), tf32(tf32(x)));
    }

    /**
     * Rounding both factors of a product changes it by at most (1 + 2^-11)^2 - 1 ~ 2^-10 relative, so each output moves
     * by at most ~2^-10 of the sum of its terms' magnitudes: measured against the output's largest value, the change
     * must exceed 2^-17 (rounding happened: an fp32-only difference would be nothing here, both runs sum in the same
     * order) and stay under 2^-7 (no more than a few units of the 11th significant bit of the terms).
     */
    @Test
    void tf32DiffersFromFp32AtTheScaleOfTenMantissaBits() {
        float[][] in = inputs(), fp32 = run(in, Fp32Math.FP32), tf32 = run(in, Fp32Math.TF32);
        for (int i = 0; i < NAMES.length; i++) {
            double rel = relativeError(fp32[i], tf32[i]);
            assertTrue(rel > 0x1p-17 && rel < 0x1p-7, NAMES[i] + ": relative change " + rel);
        }
    }

    /**
     * With q, k, v and dout already TF32 values, rounding leaves them as they are: the scores, so lse, are the same
     * bits in both modes; out, dq, dk, dv and delta (= rowsum(dout * out)) still differ because the probabilities and
     * score gradients they are made of are rounded.
     */
    @Test
    void tf32OperandsPassUnchangedAndOnlyComputedFactorsAreRounded() {
        float[][] in = inputs();
        for (int i = 0; i < in.length; i++) in[i] = tf32(in[i]);
        float[][] fp32 = run(in, Fp32Math.FP32), tf32 = run(in, Fp32Math.TF32);
        assertArrayEquals(fp32[0], tf32[0], "lse");
        for (int i = 1; i < NAMES.length; i++) {
            assertFalse(Arrays.equals(fp32[i], tf32[i]), NAMES[i] + " must see the rounded probabilities or score gradients");
            assertTrue(relativeError(fp32[i], tf32[i]) < 0x1p-7, NAMES[i] + ": " + relativeError(fp32[i], tf32[i]));
        }
    }

    /**
     * lse of raw fp32 inputs against a double-precision model of the scores from TF32-rounded q and k: TF32 mode matches
     * it to fp32 summation error, FP32 mode misses it by the rounding, so the reference rounds exactly q and k, to nearest.
     */
    @Test
    void tf32ScoresAreProductsOfRoundedQueriesAndKeys() {
        float[][] in = inputs();
        float[] q = tf32(in[0]), k = tf32(in[1]);
        float[] model = new float[BATCH * NH * T];
        for (int b = 0; b < BATCH; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++) {
                    double sum = 0;
                    for (int s = 0; s <= t; s++) {
                        double z = 0;
                        for (int j = 0; j < HS; j++) z += (double) q[((b * T + t) * NH + h) * HS + j] * k[((b * T + s) * NKV + h / (NH / NKV)) * HS + j];
                        sum += Math.exp(z / Math.sqrt(HS));
                    }
                    model[(b * NH + h) * T + t] = (float) Math.log(sum);
                }
        double tf32Err = relativeError(model, run(in, Fp32Math.TF32)[0]), fp32Err = relativeError(model, run(in, Fp32Math.FP32)[0]);
        assertTrue(tf32Err < 1e-6, "TF32 lse against the rounded-operand model: " + tf32Err);
        assertTrue(fp32Err > 20 * tf32Err, "FP32 lse must miss the rounded-operand model: " + fp32Err + " vs " + tf32Err);
    }

    @Test
    void mathOtherThanFp32OrTf32IsRejected() {
        Natives.load(EngineNative.class);
        try (Scope s = new Scope()) {
            Tensor x = s.add(Tensor.zeros(CPU, DType.F32, 4, 4)), stat = s.add(Tensor.zeros(CPU, DType.F32, 4));
            long a = x.address(), st = stat.address();
            Qft4jException e = assertThrows(Qft4jException.class,
                    () -> NativeStatus.check(EngineNative.qft_attention_forward(CPU.nativeId(), a, a, a, 1, 4, 1, 1, 4, st, a, 2), "forward"));
            assertTrue(e.getMessage().contains("math 2 is neither QFT_MATH_FP32 (0) nor QFT_MATH_TF32 (1)"), e.getMessage());
            e = assertThrows(Qft4jException.class, () -> NativeStatus.check(
                    EngineNative.qft_attention_backward(CPU.nativeId(), a, a, a, a, a, st, 1, 4, 1, 1, 4, st, a, a, a, -1), "backward"));
            assertTrue(e.getMessage().contains("math -1 is neither"), e.getMessage());
            assertThrows(NullPointerException.class, () -> DeviceOps.attentionForward(x, x, x, 1, 4, 1, 1, 4, stat, x, null));
        }
    }
}
