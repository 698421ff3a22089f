package org.qft4j.train;

import java.util.List;
import java.util.Map;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.qft.Fp32AdamW;

/**
 * The fp32 AdamW baseline (torch.optim.AdamW arithmetic). Bias correction counts each tensor's own updates,
 * so a tensor that sat out some steps is corrected for the updates it actually received.
 */
final class Fp32AdamWOptimizer implements TrainOptimizer {
    private final List<TrainableTensor> tensors;
    private final float[][] m;
    private final float[][] v;
    private final long[] updates;
    private final TrainConfig c;

    Fp32AdamWOptimizer(List<TrainableTensor> tensors, TrainConfig c) {
        this.tensors = tensors;
        this.c = c;
        m = new float[tensors.size()][];
        v = new float[tensors.size()][];
        updates = new long[tensors.size()];
        for (int i = 0; i < m.length; i++) {
            m[i] = new float[(int) tensors.get(i).numel()];
            v[i] = new float[m[i].length];
        }
    }

    @Override
    public void beginStep(long step) {}

    @Override
    public void apply(Gradient g, float gradScale, double lr) {
        TrainableTensor t = tensors.get(g.param);
        Fp32AdamW.Config cfg = new Fp32AdamW.Config((float) lr, (float) c.beta1, (float) c.beta2, (float) c.adamEpsilon, (float) c.weightDecay);
        Fp32AdamW.step(t.weights(), TrainOptimizer.scaled(g, gradScale), m[g.param], v[g.param], cfg, ++updates[g.param]);
        t.updated();
    }

    @Override
    public void saveState(Map<String, TensorBuffer> out) {
        for (TrainableTensor t : tensors) {
            out.put("opt." + t.name + ".m", TensorBuffer.ofFloats(m[t.index], t.rows, t.cols));
            out.put("opt." + t.name + ".v", TensorBuffer.ofFloats(v[t.index], t.rows, t.cols));
        }
        out.put("opt.adamw.updates", TensorBuffer.ofLongs(updates, updates.length));
    }

    @Override
    public void restoreState(Map<String, TensorBuffer> in) {
        for (TrainableTensor t : tensors) {
            System.arraycopy(in.get("opt." + t.name + ".m").toFloats(), 0, m[t.index], 0, m[t.index].length);
            System.arraycopy(in.get("opt." + t.name + ".v").toFloats(), 0, v[t.index], 0, v[t.index].length);
        }
        long[] u = in.get("opt.adamw.updates").toLongs();
        for (int i = 0; i < u.length; i++)
            if (u[i] < 0) throw new IllegalArgumentException("AdamW update count " + u[i] + " of tensor " + i + " is negative");
        System.arraycopy(u, 0, updates, 0, updates.length);
    }

    @Override
    public long stateBytes() {
        long b = 0;
        for (int i = 0; i < m.length; i++) b += 4L * (m[i].length + v[i].length);
        return b;
    }

    @Override
    public void close() {}
}
