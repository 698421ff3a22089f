package org.qft4j.train;

import java.util.List;
import java.util.Map;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.qft.Fp32Lion;
import org.qft4j.qft.LionConfig;

/** The fp32 Lion baseline: fp32 weights, fp32 momentum (8 bytes per parameter of state plus weights). */
final class Fp32LionOptimizer implements TrainOptimizer {
    private final List<TrainableTensor> tensors;
    private final float[][] momentum;
    private final TrainConfig c;

    Fp32LionOptimizer(List<TrainableTensor> tensors, TrainConfig c) {
        this.tensors = tensors;
        this.c = c;
        momentum = new float[tensors.size()][];
        for (int i = 0; i < momentum.length; i++) momentum[i] = new float[(int) tensors.get(i).numel()];
    }

    @Override
    public void beginStep(long step) {}

    @Override
    public void apply(Gradient g, float gradScale, double lr) {
        TrainableTensor t = tensors.get(g.param);
        LionConfig lion = new LionConfig((float) lr, (float) c.beta1, (float) c.beta2, (float) c.weightDecay,
                c.rounding, c.seed, 0);
        Fp32Lion.step(t.weights(), TrainOptimizer.scaled(g, gradScale), momentum[g.param], lion);
        t.updated();
    }

    @Override
    public void saveState(Map<String, TensorBuffer> out) {
        for (TrainableTensor t : tensors) out.put("opt." + t.name + ".m", TensorBuffer.ofFloats(momentum[t.index], t.rows, t.cols));
    }

    @Override
    public void restoreState(Map<String, TensorBuffer> in) {
        for (TrainableTensor t : tensors)
            System.arraycopy(in.get("opt." + t.name + ".m").toFloats(), 0, momentum[t.index], 0, momentum[t.index].length);
    }

    @Override
    public long stateBytes() {
        long b = 0;
        for (float[] m : momentum) b += 4L * m.length;
        return b;
    }

    @Override
    public void close() {}
}
