package org.qft4j.train;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.qft4j.Device;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.qft.Fp32Lion;
import org.qft4j.qft.Int8Blocks;
import org.qft4j.qft.LionConfig;
import org.qft4j.qft.QuantLion;

/**
 * Lion for {@link AustenAblation}: QFT's optimizer with each part of its state switchable between INT8 and fp32, built
 * from the trainer's parts. Weights: the {@link ParameterSet} decides (hybrid {@link QftMatrix}, stepped by the native
 * {@link QuantLion}, or fp32, stepped by {@link Fp32Lion}). Momentum of the tensors QFT quantizes ({@code int8Tensor}):
 * native INT8 blocks inside the fused step ({@link MomentumRounding#NATIVE}: exactly the trainer's), or fp32 requantized
 * here after each step by a {@link MomentumRounding} (the native step then holds it in block-1 INT8, i.e. fp32 to one
 * ulp), or fp32. An fp32 gradient reaches the native step the same way, in block-1 INT8.
 */
final class AblationLion implements TrainOptimizer {
    /** How momentum is requantized after each step. */
    enum MomentumRounding {
        /** Not quantized. */
        FP32,
        /** The fused native step's own requantization (round to nearest, nonzero signs kept). */
        NATIVE,
        /** Round to nearest, nonzero signs kept: NATIVE's rule, computed here (for fp32 weights). */
        NEAREST_KEEP,
        /** Stochastic rounding, unbiased (small values may become 0). */
        STOCHASTIC,
        /** Stochastic rounding, but a nonzero value never becomes 0. */
        STOCHASTIC_KEEP
    }

    private final List<TrainableTensor> tensors;
    private final TrainConfig c;
    private final boolean int8Momentum;
    private final int momentumBlock;
    private final MomentumRounding rounding;
    private final Int8Blocks[] nativeMomentum; // QftMatrix index -> (rows, cols)
    private final float[][] momentum;          // Fp32Tensor index -> (rows*cols)
    private final Map<Long, Int8Blocks> staging = new HashMap<>();
    private long step;

    /** momentumBlock: INT8 momentum block (0: per row, the trainer's); rounding FP32: fp32 momentum everywhere. */
    AblationLion(List<TrainableTensor> tensors, TrainConfig c, MomentumRounding rounding, int momentumBlock) {
        this.tensors = tensors;
        this.c = c;
        this.rounding = rounding;
        this.int8Momentum = rounding != MomentumRounding.FP32;
        this.momentumBlock = momentumBlock;
        nativeMomentum = new Int8Blocks[tensors.size()];
        momentum = new float[tensors.size()][];
        for (TrainableTensor t : tensors) {
            if (t instanceof QftMatrix) {
                int block = rounding == MomentumRounding.NATIVE ? blockOf(t) : 1;
                nativeMomentum[t.index] = Int8Blocks.zeros(Device.CPU, t.rows, t.cols, block);
            } else {
                momentum[t.index] = new float[(int) t.numel()];
            }
        }
    }

    private int blockOf(TrainableTensor t) {
        return momentumBlock > 0 ? momentumBlock : t.cols;
    }

    /** The tensors whose state QFT keeps in INT8 (ParameterSet's rule for QftMatrix). */
    private boolean int8Tensor(TrainableTensor t) {
        return t.numel() >= c.fp32Below && t.rows > 1;
    }

    @Override
    public void beginStep(long s) {
        step = s;
    }

    @Override
    public void apply(Gradient g, float gradScale, double lr) {
        TrainableTensor t = tensors.get(g.param);
        LionConfig lion = new LionConfig((float) lr, (float) c.beta1, (float) c.beta2, (float) c.weightDecay, c.rounding,
                c.seed, c.outlierReselectInterval);
        if (t instanceof QftMatrix q) {
            Int8Blocks grad = g.isInt8() ? stage(g, gradScale) : Int8Blocks.quantize(TrainOptimizer.scaled(g, gradScale), t.rows, t.cols, 1, false);
            try (QuantLion opt = new QuantLion(Device.CPU, lion)) {
                opt.setStep(step - 1);
                opt.step(List.of(new QuantLion.Param(t.index, q.hybrid(), grad, nativeMomentum[t.index])));
            } finally {
                if (!g.isInt8()) grad.close();
            }
            if (rounding != MomentumRounding.NATIVE && rounding != MomentumRounding.FP32) {
                float[] m = nativeMomentum[t.index].dequantizeToArray();
                requantize(t, m);
                nativeMomentum[t.index].close();
                nativeMomentum[t.index] = Int8Blocks.quantize(m, t.rows, t.cols, 1, false);
            }
        } else {
            float[] m = momentum[t.index];
            Fp32Lion.step(t.weights(), TrainOptimizer.scaled(g, gradScale), m, lion);
            if (int8Momentum && int8Tensor(t)) requantize(t, m);
        }
        t.updated();
    }

    /** m (rows*cols) replaced by its INT8 image: per block absmax/127 scales, codes rounded by {@link #rounding}. */
    private void requantize(TrainableTensor t, float[] m) {
        int block = blockOf(t);
        SplittableRandom rng = new SplittableRandom(c.seed * 0x9E3779B97F4A7C15L ^ step * 0xBF58476D1CE4E5B9L ^ (t.index + 1L) * 0x94D049BB133111EBL);
        for (int r = 0; r < t.rows; r++) {
            for (int c0 = 0; c0 < t.cols; c0 += block) {
                int o = r * t.cols + c0, n = Math.min(block, t.cols - c0);
                float absmax = 0f;
                for (int i = 0; i < n; i++) absmax = Math.max(absmax, Math.abs(m[o + i]));
                float s = absmax > 0f ? absmax / 127f : 1f;
                for (int i = 0; i < n; i++) {
                    float x = m[o + i], v = x / s;
                    int q = switch (rounding) {
                        case NATIVE, NEAREST_KEEP -> (int) Math.rint(v);
                        case STOCHASTIC, STOCHASTIC_KEEP -> (int) Math.floor(v) + (rng.nextFloat() < v - (float) Math.floor(v) ? 1 : 0);
                        case FP32 -> throw new IllegalStateException();
                    };
                    q = Math.max(-127, Math.min(127, q));
                    if (q == 0 && x != 0f && rounding != MomentumRounding.STOCHASTIC) q = x > 0f ? 1 : -1;
                    m[o + i] = q * s;
                }
            }
        }
    }

    /** The trainer's staging: INT8 gradient codes with the clip factor folded into the row scales. */
    private Int8Blocks stage(Gradient g, float gradScale) {
        Int8Blocks buf = staging.computeIfAbsent(((long) g.rows << 32) | g.cols, k -> Int8Blocks.zeros(Device.CPU, g.rows, g.cols, g.cols));
        float[] scales = g.scales().clone();
        for (int r = 0; r < scales.length; r++) scales[r] *= gradScale;
        buf.restore(g.codes(), scales);
        return buf;
    }

    @Override
    public long stateBytes() {
        return 0;
    }

    @Override
    public void saveState(Map<String, TensorBuffer> out) {
        throw new UnsupportedOperationException("an ablation harness, not checkpointed");
    }

    @Override
    public void restoreState(Map<String, TensorBuffer> in) {
        throw new UnsupportedOperationException("an ablation harness, not checkpointed");
    }

    @Override
    public void close() {
        for (Int8Blocks m : nativeMomentum) if (m != null) m.close();
        for (Int8Blocks s : staging.values()) s.close();
    }
}
