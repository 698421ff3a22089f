package org.qft4j.peqa;

import java.util.List;

/**
 * AdamW over the scales of PEQA matrices only (PEQA trains nothing else; weight decay 0 as in the paper,
 * Kim et al. arXiv 2305.14152, section 4). State: first and second moments per scale, fp32 on the heap,
 * so tuning costs 16 bytes per scale (value, gradient, two moments) — about 0.5 bit per weight at group 128.
 * Decoupled weight decay (Loshchilov and Hutter, arXiv 1711.05101) is kept for completeness.
 */
public final class ScaleAdamW {
    private final List<PeqaMatrix> params;
    private final float[][] m, v;
    private final float beta1, beta2, eps, weightDecay;
    private int step;

    public ScaleAdamW(List<PeqaMatrix> params, float beta1, float beta2, float eps, float weightDecay) {
        this.params = List.copyOf(params);
        this.m = new float[this.params.size()][];
        this.v = new float[this.params.size()][];
        for (int i = 0; i < this.params.size(); i++) {
            m[i] = new float[this.params.get(i).scales().length];
            v[i] = new float[m[i].length];
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** PEQA's setting: betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public static ScaleAdamW peqa(List<PeqaMatrix> params) {
        return new ScaleAdamW(params, 0.9f, 0.999f, 1e-8f, 0f);
    }

    /** One update of every scale from its accumulated gradient, then the gradients are zeroed. */
    public void step(float lr) {
        step++;
        float c1 = 1 - (float) Math.pow(beta1, step), c2 = 1 - (float) Math.pow(beta2, step);
        for (int p = 0; p < params.size(); p++) {
            PeqaMatrix pm = params.get(p);
            float[] s = pm.scales(), g = pm.scaleGrad(), mp = m[p], vp = v[p];
            for (int i = 0; i < s.length; i++) {
                mp[i] = beta1 * mp[i] + (1 - beta1) * g[i];
                vp[i] = beta2 * vp[i] + (1 - beta2) * g[i] * g[i];
                s[i] -= lr * (mp[i] / c1 / ((float) Math.sqrt(vp[i] / c2) + eps) + weightDecay * s[i]);
            }
            pm.zeroGrad();
        }
    }

    /** Trainable parameters (scales) under this optimizer. */
    public long parameters() {
        long n = 0;
        for (float[] a : m) n += a.length;
        return n;
    }

    /** Optimizer state bytes (two fp32 moments per scale). */
    public long stateBytes() {
        return 8 * parameters();
    }
}
