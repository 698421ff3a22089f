package org.qft4j.train;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.Device;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.tensor.DType;
import org.qft4j.NativeStatus;
import org.qft4j.nativ.CoreNative;
import org.qft4j.qft.Fp32Lion;
import org.qft4j.qft.Int8Blocks;
import org.qft4j.qft.LionConfig;
import org.qft4j.qft.QuantLion;

/**
 * QFT's optimizer: for each {@link QftMatrix}, INT8 Lion momentum with one scale per row and the fused
 * quantized Lion step of {@link QuantLion} (weights requantized in place with the configured rounding,
 * outliers re-selected every {@code outlierReselectInterval} steps); fp32 Lion for the small fp32 tensors.
 * The step's INT8 gradient is staged into a native buffer of its shape (one per distinct shape) for the step.
 */
final class QftLionOptimizer implements TrainOptimizer {
    private final List<TrainableTensor> tensors;
    private final Int8Blocks[] momentum;  // QftMatrix index -> (rows, cols) int8, block = cols
    private final float[][] fp32Momentum; // Fp32Tensor index -> (rows*cols)
    private final Map<Long, Int8Blocks> staging = new HashMap<>();
    private final TrainConfig c;
    private long step;

    QftLionOptimizer(List<TrainableTensor> tensors, TrainConfig c) {
        this.tensors = tensors;
        this.c = c;
        momentum = new Int8Blocks[tensors.size()];
        fp32Momentum = new float[tensors.size()][];
        try {
            for (TrainableTensor t : tensors) {
                if (t instanceof QftMatrix) momentum[t.index] = Int8Blocks.zeros(Device.CPU, t.rows, t.cols, t.cols);
                else fp32Momentum[t.index] = new float[(int) t.numel()];
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
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
            if (!g.isInt8()) throw new IllegalStateException(t.name + ": QFT matrix got an fp32 gradient");
            Int8Blocks buf = stage(g, gradScale);
            try (QuantLion opt = new QuantLion(Device.CPU, lion)) {
                // The step keys the stochastic rounding stream; QuantLion re-selects outliers when (step % interval) == 0.
                opt.setStep(step - 1);
                opt.step(List.of(new QuantLion.Param(t.index, q.hybrid(), buf, momentum[t.index])));
            }
        } else {
            Fp32Lion.step(t.weights(), TrainOptimizer.scaled(g, gradScale), fp32Momentum[t.index], lion);
        }
        t.updated();
    }

    /** Copies the INT8 gradient into the native staging buffer, folding the clip factor into the row scales. */
    private Int8Blocks stage(Gradient g, float gradScale) {
        Int8Blocks buf = staging.computeIfAbsent(((long) g.rows << 32) | g.cols, k -> Int8Blocks.zeros(Device.CPU, g.rows, g.cols, g.cols));
        float[] scales = g.scales().clone();
        for (int r = 0; r < scales.length; r++) scales[r] *= gradScale;
        NativeStatus.check(CoreNative.qft_copy_from_host(-1, buf.codes().address(), g.codes(), g.codes().length), "staging INT8 gradient codes");
        NativeStatus.check(CoreNative.qft_copy_from_host(-1, buf.scales().address(), scales, 4L * scales.length), "staging INT8 gradient scales");
        return buf;
    }

    @Override
    public void saveState(Map<String, TensorBuffer> out) {
        for (TrainableTensor t : tensors) {
            Int8Blocks m = momentum[t.index];
            if (m != null) {
                out.put("opt." + t.name + ".m_codes", TensorBuffer.ofBytes(DType.I8, m.codes().toBytes(), t.rows, t.cols));
                out.put("opt." + t.name + ".m_scales", TensorBuffer.ofFloats(m.scales().toFloats(), m.scales().shape()));
            } else {
                out.put("opt." + t.name + ".m", TensorBuffer.ofFloats(fp32Momentum[t.index], t.rows, t.cols));
            }
        }
    }

    @Override
    public void restoreState(Map<String, TensorBuffer> in) {
        for (TrainableTensor t : tensors) {
            Int8Blocks m = momentum[t.index];
            if (m != null) m.restore(in.get("opt." + t.name + ".m_codes").toBytes(), in.get("opt." + t.name + ".m_scales").toFloats());
            else System.arraycopy(in.get("opt." + t.name + ".m").toFloats(), 0, fp32Momentum[t.index], 0, fp32Momentum[t.index].length);
        }
    }

    @Override
    public long stateBytes() {
        long b = 0;
        for (Int8Blocks m : momentum) if (m != null) b += m.bytes();
        for (float[] m : fp32Momentum) if (m != null) b += 4L * m.length;
        return b;
    }

    @Override
    public void close() {
        for (Int8Blocks m : momentum) if (m != null) m.close();
        for (Int8Blocks s : staging.values()) s.close();
        staging.clear();
    }
}
