package org.qft4j.train;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.Device;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.qft.Fp32Lion;
import org.qft4j.qft.Int8Blocks;
import org.qft4j.qft.LionConfig;
import org.qft4j.qft.QuantLion;

/**
 * Lion for {@link AustenAblation}: QFT's optimizer with each part of its state switchable between INT8 and fp32, built
 * from the trainer's parts. Weights: the {@link ParameterSet} decides (hybrid {@link QftMatrix}, stepped by the native
 * {@link QuantLion}, or fp32, stepped by {@link Fp32Lion}). Momentum of the tensors QFT quantizes: INT8 with per-row
 * scales (inside the fused step for hybrid weights, exactly the trainer's; requantized here by the same rule, round to
 * nearest keeping nonzero signs, for fp32 weights), or fp32 (for hybrid weights the native step then holds it in
 * block-1 INT8, i.e. fp32 to one ulp). An fp32 gradient reaches the native step the same way, in block-1 INT8.
 */
final class AblationLion implements TrainOptimizer {
    private final List<TrainableTensor> tensors;
    private final TrainConfig c;
    private final boolean int8Momentum;
    private final Int8Blocks[] nativeMomentum; // QftMatrix index -> (rows, cols), block cols (INT8) or 1 (fp32)
    private final float[][] momentum;          // Fp32Tensor index -> (rows*cols)
    private final Map<Long, Int8Blocks> staging = new HashMap<>();
    private long step;

    AblationLion(List<TrainableTensor> tensors, TrainConfig c, boolean int8Momentum) {
        this.tensors = tensors;
        this.c = c;
        this.int8Momentum = int8Momentum;
        nativeMomentum = new Int8Blocks[tensors.size()];
        momentum = new float[tensors.size()][];
        for (TrainableTensor t : tensors) {
            if (t instanceof QftMatrix) nativeMomentum[t.index] = Int8Blocks.zeros(Device.CPU, t.rows, t.cols, int8Momentum ? t.cols : 1);
            else momentum[t.index] = new float[(int) t.numel()];
        }
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
        } else {
            float[] m = momentum[t.index];
            Fp32Lion.step(t.weights(), TrainOptimizer.scaled(g, gradScale), m, lion);
            if (int8Momentum && int8Tensor(t)) requantizeRows(m, t.rows, t.cols);
        }
        t.updated();
    }

    /** m (rows*cols) replaced by its INT8 image as the fused step keeps momentum: scale row absmax/127, codes
     *  round-to-nearest of m * 127/absmax, signs kept (qft_math.h's quantize_sign_kept). */
    private static void requantizeRows(float[] m, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            float absmax = 0f;
            for (int i = r * cols; i < (r + 1) * cols; i++) absmax = Math.max(absmax, Math.abs(m[i]));
            float s = absmax > 0f ? absmax / 127f : 1f, inv = absmax > 0f ? 127f / absmax : 1f;
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                int q = Math.max(-127, Math.min(127, (int) Math.rint(m[i] * inv)));
                if (q == 0 && m[i] != 0f) q = m[i] > 0f ? 1 : -1;
                m[i] = q * s;
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
