package org.qft4j.llama;

import java.util.Arrays;

/**
 * Teacher-forced forward and full backward of a LLaMA model over a batch of B sequences of T tokens, all buffers
 * allocated once for a capacity of (maxBatch, maxT). Not thread-safe: one model object per training thread; the
 * arithmetic inside is multithreaded.
 *
 * <p>Backward calls each weight's gradient methods and then {@code gradientComplete()} in reverse forward order:
 * classifier (if untied), then per layer from last to first w2, w3, w1, wo, wv, wk, wq, and the token embedding last
 * (a tied embedding completes only then, after both its classifier and its lookup contributions).
 * Norm-weight gradients are accumulated (+=) into {@link LlamaWeights}' gradient vectors.
 */
public final class LlamaModel {
    /** Targets below zero are not predicted (prompt tokens, padding). */
    public static final int IGNORE = -1;

    private final LlamaWeights w;
    private final LlamaConfig cfg;
    private final Rope rope;
    private final int maxBatch, maxT;
    private final boolean recompute;
    private final BlockActivations[] acts; // one per layer, or a single shared one with recomputation
    private final float[][] residual;      // (L+1) x (n, C): the input of each block and the output of the last
    private final float[] xf, rstdF;       // (n, C), (n): after the final norm
    private final float[] logits;          // (n, V)
    private final float[] nll;             // (n): -log p(target) per position, 0 where ignored
    // backward scratch
    private final float[] dlogits, dx, dxn, dq, dk, dv, dao, dg, dh1, dh3;

    private int batch, T;
    private int[] tokens, targets;
    private int predicted;
    private double lossSum;
    private boolean forwardDone;

    /**
     * @param recompute keep only each block's input and recompute the block during backward (activation checkpointing)
     */
    public LlamaModel(LlamaWeights weights, int maxBatch, int maxT, boolean recompute) {
        if (maxBatch <= 0 || maxT <= 0 || maxT > weights.config.seqLen())
            throw new IllegalArgumentException("LlamaModel: need 0 < maxBatch and 0 < maxT <= seq_len " + weights.config.seqLen() + ", got " + maxBatch + ", " + maxT);
        this.w = weights;
        this.cfg = weights.config;
        this.rope = new Rope(cfg);
        this.maxBatch = maxBatch;
        this.maxT = maxT;
        this.recompute = recompute;
        int n = maxBatch * maxT, c = cfg.dim(), kv = cfg.kvDim(), h = cfg.hiddenDim(), v = cfg.vocabSize();
        acts = new BlockActivations[recompute ? 1 : cfg.nLayers()];
        for (int l = 0; l < acts.length; l++) acts[l] = new BlockActivations(cfg, maxBatch, maxT);
        residual = new float[cfg.nLayers() + 1][n * c];
        xf = new float[n * c];
        rstdF = new float[n];
        logits = new float[Math.multiplyExact(n, v)];
        nll = new float[n];
        dlogits = new float[n * v];
        dx = new float[n * c];
        dxn = new float[n * c];
        dq = new float[n * c];
        dk = new float[n * kv];
        dv = new float[n * kv];
        dao = new float[n * c];
        dg = new float[n * h];
        dh1 = new float[n * h];
        dh3 = new float[n * h];
    }

    public LlamaWeights weights() { return w; }

    /**
     * Runs the forward pass. tokens: (batch, T) row-major ids; targets: (batch, T) ids to predict at each position, or
     * {@link #IGNORE} (any negative value) to leave a position out of the loss; targets may be null (logits only).
     *
     * @return the mean cross-entropy over the predicted positions (0 when there are none or targets is null)
     */
    public float forward(int[] tokens, int[] targets, int batch, int T) {
        if (batch <= 0 || batch > maxBatch || T <= 0 || T > maxT)
            throw new IllegalArgumentException("forward: batch " + batch + " x T " + T + " exceeds the capacity " + maxBatch + " x " + maxT);
        int n = batch * T, c = cfg.dim(), vocab = cfg.vocabSize();
        if (tokens.length < n || (targets != null && targets.length < n))
            throw new IllegalArgumentException("forward: need " + n + " tokens and targets, got " + tokens.length + " and " + (targets == null ? 0 : targets.length));
        for (int i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) throw new IllegalArgumentException("forward: token " + tokens[i] + " at " + i + " is outside [0, " + vocab + ")");
            if (targets != null && targets[i] >= vocab) throw new IllegalArgumentException("forward: target " + targets[i] + " at " + i + " is outside [0, " + vocab + ")");
        }
        this.batch = batch;
        this.T = T;
        this.tokens = tokens;
        this.targets = targets;
        for (int i = 0; i < n; i++) w.tokenEmbedding.row(tokens[i], residual[0], i * c);
        for (int l = 0; l < cfg.nLayers(); l++) blockForward(l, act(l), residual[l], residual[l + 1]);
        RmsNorm.forward(residual[cfg.nLayers()], w.finalNorm, xf, rstdF, n, c, cfg.normEps());
        w.classifier.matmul(xf, n, logits);
        forwardDone = true;
        return targets == null ? 0f : loss(n);
    }

    /** Logits (batch*T, V) of the last forward. */
    public float[] logits() { return logits; }

    /** Sum of -log p(target) over predicted positions of the last forward (double precision). */
    public double lossSum() { return lossSum; }

    /** Number of predicted (non-ignored) positions in the last forward. */
    public int predictedCount() { return predicted; }

    /** -log p(target) per position of the last forward, 0 where ignored; (batch*T). */
    public float[] positionLosses() { return nll; }

    /** d loss / d (embedded input) of the last backward: (batch*T, C). */
    public float[] inputEmbeddingGradient() { return dx; }

    /** Bytes of activation buffers this model keeps for backward (block activations and residual streams). */
    public long activationBytes() {
        long b = 0;
        for (BlockActivations a : acts) b += a.bytes();
        return b + 4L * residual.length * residual[0].length;
    }

    /** Gradient of the mean loss of the last forward (which must have had targets) into every parameter. */
    public void backward() {
        if (!forwardDone || targets == null) throw new IllegalStateException("backward: run forward with targets first");
        forwardDone = false;
        int n = batch * T, c = cfg.dim(), vocab = cfg.vocabSize();
        float inv = predicted == 0 ? 0f : 1f / predicted;
        // dlogits holds softmax(logits) of the predicted rows since forward: d mean / d logits = (p - onehot) / count
        Parallel.forRange(n, vocab, (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int o = t * vocab;
                if (targets[t] < 0) {
                    Arrays.fill(dlogits, o, o + vocab, 0f);
                    continue;
                }
                for (int j = 0; j < vocab; j++) dlogits[o + j] *= inv;
                dlogits[o + targets[t]] -= inv;
            }
        });
        Arrays.fill(dxn, 0, n * c, 0f);
        w.classifier.matmulBackwardInput(dlogits, n, dxn);
        w.classifier.accumulateGradient(dlogits, xf, n);
        if (w.classifier != w.tokenEmbedding) w.classifier.gradientComplete();
        Arrays.fill(dx, 0, n * c, 0f);
        RmsNorm.backward(dxn, residual[cfg.nLayers()], w.finalNorm, rstdF, dx, w.finalNormGradient, n, c);
        for (int l = cfg.nLayers() - 1; l >= 0; l--) {
            if (recompute) blockForward(l, acts[0], residual[l], residual[l + 1]);
            blockBackward(l, act(l), residual[l]);
        }
        for (int i = 0; i < n; i++) w.tokenEmbedding.accumulateRowGradient(tokens[i], dx, i * c);
        w.tokenEmbedding.gradientComplete();
    }

    private BlockActivations act(int l) {
        return recompute ? acts[0] : acts[l];
    }

    private float loss(int n) {
        int vocab = cfg.vocabSize();
        Parallel.forRange(n, vocab, (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                if (targets[t] < 0) {
                    nll[t] = 0f;
                    continue;
                }
                int o = t * vocab;
                float max = max(logits, o, vocab);
                double sum = 0;
                for (int j = 0; j < vocab; j++) {
                    float e = (float) Math.exp(logits[o + j] - max);
                    dlogits[o + j] = e;
                    sum += e;
                }
                nll[t] = (float) (max + Math.log(sum) - logits[o + targets[t]]);
                float inv = (float) (1.0 / sum);
                for (int j = 0; j < vocab; j++) dlogits[o + j] *= inv;
            }
        });
        predicted = 0;
        lossSum = 0;
        for (int t = 0; t < n; t++)
            if (targets[t] >= 0) {
                predicted++;
                lossSum += nll[t];
            }
        return predicted == 0 ? 0f : (float) (lossSum / predicted);
    }

    private static float max(float[] a, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) m = Math.max(m, a[off + j]);
        return m;
    }

    private void blockForward(int l, BlockActivations a, float[] xIn, float[] xOut) {
        LlamaWeights.Layer y = w.layers[l];
        int n = batch * T, c = cfg.dim(), kv = cfg.kvDim(), hd = cfg.hiddenDim();
        RmsNorm.forward(xIn, y.attentionNorm, a.xn1, a.rstd1, n, c, cfg.normEps());
        y.wq.matmul(a.xn1, n, a.q);
        y.wk.matmul(a.xn1, n, a.k);
        y.wv.matmul(a.xn1, n, a.v);
        Parallel.forRange(n, 2L * c, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                rope.rotate(a.q, i * c, cfg.nHeads(), i % T, false);
                rope.rotate(a.k, i * kv, cfg.nKvHeads(), i % T, false);
            }
        });
        Attention.forward(a.q, a.k, a.v, a.att, a.ao, batch, T, cfg);
        y.wo.matmul(a.ao, n, a.x2);
        add(a.x2, xIn, n * c);
        RmsNorm.forward(a.x2, y.ffnNorm, a.xn2, a.rstd2, n, c, cfg.normEps());
        y.w1.matmul(a.xn2, n, a.h1);
        y.w3.matmul(a.xn2, n, a.h3);
        Parallel.forRange(n * hd, 8, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float h = a.h1[i];
                a.g[i] = h * (1.0f / (1.0f + (float) Math.exp(-h))) * a.h3[i];
            }
        });
        y.w2.matmul(a.g, n, xOut);
        add(xOut, a.x2, n * c);
    }

    /** On entry dx holds d loss / d (block output); on return d loss / d (block input). */
    private void blockBackward(int l, BlockActivations a, float[] xIn) {
        LlamaWeights.Layer y = w.layers[l];
        int n = batch * T, c = cfg.dim(), kv = cfg.kvDim(), hd = cfg.hiddenDim();
        // FFN: out = x2 + w2 (silu(w1 xn2) * w3 xn2)
        Arrays.fill(dg, 0, n * hd, 0f);
        y.w2.matmulBackwardInput(dx, n, dg);
        y.w2.accumulateGradient(dx, a.g, n);
        y.w2.gradientComplete();
        Parallel.forRange(n * hd, 8, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float h = a.h1[i];
                float s = 1.0f / (1.0f + (float) Math.exp(-h));
                dh3[i] = dg[i] * h * s;
                dh1[i] = dg[i] * a.h3[i] * s * (1f + h * (1f - s));
            }
        });
        Arrays.fill(dxn, 0, n * c, 0f);
        y.w3.matmulBackwardInput(dh3, n, dxn);
        y.w3.accumulateGradient(dh3, a.xn2, n);
        y.w3.gradientComplete();
        y.w1.matmulBackwardInput(dh1, n, dxn);
        y.w1.accumulateGradient(dh1, a.xn2, n);
        y.w1.gradientComplete();
        RmsNorm.backward(dxn, a.x2, y.ffnNorm, a.rstd2, dx, y.ffnNormGradient, n, c);
        // attention: x2 = xIn + wo attention(rope(wq xn1), rope(wk xn1), wv xn1)
        Arrays.fill(dao, 0, n * c, 0f);
        y.wo.matmulBackwardInput(dx, n, dao);
        y.wo.accumulateGradient(dx, a.ao, n);
        y.wo.gradientComplete();
        Arrays.fill(dq, 0, n * c, 0f);
        Arrays.fill(dk, 0, n * kv, 0f);
        Arrays.fill(dv, 0, n * kv, 0f);
        Attention.backward(dao, a.q, a.k, a.v, a.att, dq, dk, dv, batch, T, cfg);
        Parallel.forRange(n, 2L * c, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                rope.rotate(dq, i * c, cfg.nHeads(), i % T, true);
                rope.rotate(dk, i * kv, cfg.nKvHeads(), i % T, true);
            }
        });
        Arrays.fill(dxn, 0, n * c, 0f);
        y.wv.matmulBackwardInput(dv, n, dxn);
        y.wv.accumulateGradient(dv, a.xn1, n);
        y.wv.gradientComplete();
        y.wk.matmulBackwardInput(dk, n, dxn);
        y.wk.accumulateGradient(dk, a.xn1, n);
        y.wk.gradientComplete();
        y.wq.matmulBackwardInput(dq, n, dxn);
        y.wq.accumulateGradient(dq, a.xn1, n);
        y.wq.gradientComplete();
        RmsNorm.backward(dxn, xIn, y.attentionNorm, a.rstd1, dx, y.attentionNormGradient, n, c);
    }

    private static void add(float[] y, float[] x, int n) {
        for (int i = 0; i < n; i++) y[i] += x[i];
    }
}
