package org.qft4j.bench;

import java.util.ArrayList;
import java.util.List;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.device.DeviceLlama;
import org.qft4j.nativ.CoreNative;
import org.qft4j.tensor.Tensor;
import org.qft4j.train.LrSchedule;

/**
 * The fp32 control of {@link TrainBench}'s loss curves: the same device engine ({@link DeviceLlama} with fp32 weights,
 * no INT8 anywhere), the same initial weights and windows as the QFT run, trained with fp32 AdamW (Loshchilov and
 * Hutter, arXiv 1711.05101, as torch.optim.AdamW: decoupled weight decay, bias-corrected moments, eps 1e-8) or fp32
 * Lion (Chen et al., arXiv 2302.06675, Algorithm 2, decoupled weight decay), both after clipping by the global norm as
 * torch.nn.utils.clip_grad_norm_ (factor max / (norm + 1e-6) when below 1). Weight decay applies to every tensor, as
 * the PyTorch peer's AdamW does. The update runs on the heap (each parameter and gradient copied out and back): meant
 * for the CPU stand-in of the GPU comparison, where the copies are memcpy; on a GPU the peer is PyTorch.
 */
final class Fp32Baseline implements AutoCloseable {
    enum Kind { ADAMW, LION }

    /** One parameter: the engine's weight and gradient, and the optimizer's moments (m: Lion's momentum; v: AdamW only). */
    private record Param(String name, Tensor weight, Tensor gradient, float[] m, float[] v) {}

    private final DeviceLlama model;
    private final Kind kind;
    private final LrSchedule schedule;
    private final double beta1, beta2, weightDecay, clipNorm;
    private final List<Param> params = new ArrayList<>();
    private int step;

    Fp32Baseline(LlamaWeights initial, Device device, int batch, int seq, Kind kind, LrSchedule schedule, double beta1, double beta2,
                 double weightDecay, double clipNorm) {
        this.model = new DeviceLlama(initial, device, batch, seq);
        this.kind = kind;
        this.schedule = schedule;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.weightDecay = weightDecay;
        this.clipNorm = clipNorm;
        for (String name : model.parameterNames()) {
            Tensor w = model.parameter(name);
            int n = Math.toIntExact(w.numel());
            params.add(new Param(name, w, model.gradient(name), new float[n], kind == Kind.ADAMW ? new float[n] : null));
        }
    }

    DeviceLlama model() { return model; }

    /** One step on (batch, seq) inputs and targets; returns the mean training loss before the update. */
    float step(int[] tokens, int[] targets, int batch, int seq) {
        step++;
        model.zeroGradients();
        float loss = model.forward(tokens, targets, batch, seq);
        model.backward();
        List<float[]> grads = new ArrayList<>(params.size());
        double sumSquares = 0;
        for (Param p : params) {
            float[] g = p.gradient.toFloats();
            for (float x : g) sumSquares += (double) x * x;
            grads.add(g);
        }
        double norm = Math.sqrt(sumSquares);
        if (!Double.isFinite(norm)) throw new IllegalStateException("fp32 " + kind + " step " + step + ": gradient norm " + norm);
        float clip = (float) Math.min(1.0, clipNorm / (norm + 1e-6));
        double lr = schedule.at(step);
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            float[] w = p.weight.toFloats();
            if (kind == Kind.ADAMW) adamw(w, grads.get(i), clip, p.m, p.v, lr, beta1, beta2, weightDecay, step);
            else lion(w, grads.get(i), clip, p.m, lr, beta1, beta2, weightDecay);
            NativeStatus.check(CoreNative.qft_copy_from_host(p.weight.device().nativeId(), p.weight.address(), w, p.weight.byteSize()),
                    "writing the updated " + p.name + " " + p.weight);
        }
        return loss;
    }

    /** torch.optim.AdamW's step (eps 1e-8) on w with gradient clip * g; t is the 1-based step. */
    static void adamw(float[] w, float[] g, float clip, float[] m, float[] v, double lr, double b1, double b2, double wd, int t) {
        double c1 = 1 - Math.pow(b1, t), c2 = 1 - Math.pow(b2, t);
        for (int i = 0; i < w.length; i++) {
            double gi = (double) clip * g[i];
            m[i] = (float) (b1 * m[i] + (1 - b1) * gi);
            v[i] = (float) (b2 * v[i] + (1 - b2) * gi * gi);
            double mHat = m[i] / c1, vHat = v[i] / c2;
            w[i] = (float) (w[i] * (1 - lr * wd) - lr * mHat / (Math.sqrt(vHat) + 1e-8));
        }
    }

    /** Lion's step: w -= lr (sign(b1 m + (1 - b1) g) + wd w), then m = b2 m + (1 - b2) g, g = clip * gradient. */
    static void lion(float[] w, float[] g, float clip, float[] m, double lr, double b1, double b2, double wd) {
        for (int i = 0; i < w.length; i++) {
            double gi = (double) clip * g[i];
            double c = b1 * m[i] + (1 - b1) * gi;
            w[i] = (float) (w[i] * (1 - lr * wd) - lr * Math.signum(c));
            m[i] = (float) (b2 * m[i] + (1 - b2) * gi);
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
