package org.qft4j.checkpoint;

import java.util.LinkedHashMap;
import java.util.Map;
import org.qft4j.tensor.DType;

/**
 * A deterministic stand-in for a training run, for the crash test: fp32 weights, int8 momentum and an
 * int64 counter, each step updated by a counter-based rule (no hidden RNG), so that the state after any
 * step can be recomputed exactly and compared bit for bit with a checkpoint.
 */
final class SyntheticTraining {
    static final int N = 1 << 16;
    static final CheckpointSchema SCHEMA = CheckpointSchema.ANY
            .require("w", DType.F32, N).require("momentum", DType.I8, N).require("counter", DType.I64, 1)
            .rejectUnknown();

    long step;
    final float[] w = new float[N];       // (N,) fp32 weights
    final byte[] momentum = new byte[N];  // (N,) int8 momentum
    long counter;                         // draws consumed, like the stochastic-rounding counter

    /** Advances one step: a hashed "gradient", sign-momentum in int8, a decayed weight update. */
    void step() {
        step++;
        for (int i = 0; i < N; i++) {
            long h = mix(counter + i);
            float g = ((h >>> 40) - (1 << 23)) / (float) (1 << 23); // in [-1, 1)
            int m = momentum[i] - (momentum[i] >> 3) + (g > 0 ? 4 : -4);
            momentum[i] = (byte) Math.max(-127, Math.min(127, m));
            w[i] = w[i] * 0.999f - 1e-3f * g + 1e-5f * momentum[i];
        }
        counter += N;
    }

    Map<String, TensorData> tensors() {
        Map<String, TensorData> m = new LinkedHashMap<>();
        m.put("w", TensorBuffer.ofFloats(w, N));
        m.put("momentum", TensorBuffer.ofBytes(DType.I8, momentum, N));
        m.put("counter", TensorBuffer.ofLongs(new long[] {counter}, 1));
        return m;
    }

    static SyntheticTraining from(Checkpoint c) {
        SyntheticTraining t = new SyntheticTraining();
        t.step = c.step();
        System.arraycopy(c.tensor("w").toFloats(), 0, t.w, 0, N);
        System.arraycopy(c.tensor("momentum").toBytes(), 0, t.momentum, 0, N);
        t.counter = c.tensor("counter").toLongs()[0];
        return t;
    }

    boolean sameStateAs(SyntheticTraining o) {
        return step == o.step && counter == o.counter && java.util.Arrays.equals(momentum, o.momentum)
                && java.util.Arrays.equals(toBits(w), toBits(o.w));
    }

    private static int[] toBits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }

    /** SplitMix64's finaliser: a counter-based hash, the same on every JVM. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
