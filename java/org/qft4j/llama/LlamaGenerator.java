package org.qft4j.llama;

/**
 * Token-at-a-time forward with a key/value cache, as llama2.c's forward(transformer, token, pos): the inference path
 * for generation. Holds its own cache (L, seq_len, KV) for one sequence.
 */
public final class LlamaGenerator {
    private final LlamaWeights w;
    private final LlamaConfig cfg;
    private final Rope rope;
    private final float[][] keyCache, valueCache; // per layer (seq_len, KV), k after RoPE
    private final float[] x, xb, xb2, q, k, v, hb, hb2, att, logits, rstd = new float[1];

    public LlamaGenerator(LlamaWeights weights) {
        w = weights;
        cfg = weights.config;
        rope = new Rope(cfg);
        int c = cfg.dim(), kv = cfg.kvDim(), h = cfg.hiddenDim();
        keyCache = new float[cfg.nLayers()][cfg.seqLen() * kv];
        valueCache = new float[cfg.nLayers()][cfg.seqLen() * kv];
        x = new float[c];
        xb = new float[c];
        xb2 = new float[c];
        q = new float[c];
        k = new float[kv];
        v = new float[kv];
        hb = new float[h];
        hb2 = new float[h];
        att = new float[cfg.nHeads() * cfg.seqLen()];
        logits = new float[cfg.vocabSize()];
    }

    public LlamaConfig config() { return cfg; }

    /** Logits (V) for token at position pos; positions 0..pos-1 must have been run before (the cache holds them). */
    public float[] forward(int token, int pos) {
        int c = cfg.dim(), kvDim = cfg.kvDim(), hs = cfg.headSize(), nh = cfg.nHeads(), group = nh / cfg.nKvHeads();
        if (token < 0 || token >= cfg.vocabSize()) throw new IllegalArgumentException("forward: token " + token + " outside [0, " + cfg.vocabSize() + ")");
        if (pos < 0 || pos >= cfg.seqLen()) throw new IllegalArgumentException("forward: position " + pos + " outside [0, " + cfg.seqLen() + ")");
        w.tokenEmbedding.row(token, x, 0);
        float scale = (float) (1.0 / Math.sqrt(hs));
        for (int l = 0; l < cfg.nLayers(); l++) {
            LlamaWeights.Layer y = w.layers[l];
            RmsNorm.forward(x, y.attentionNorm, xb, rstd, 1, c, cfg.normEps());
            y.wq.matmul(xb, 1, q);
            y.wk.matmul(xb, 1, k);
            y.wv.matmul(xb, 1, v);
            rope.rotate(q, 0, nh, pos, false);
            rope.rotate(k, 0, cfg.nKvHeads(), pos, false);
            System.arraycopy(k, 0, keyCache[l], pos * kvDim, kvDim);
            System.arraycopy(v, 0, valueCache[l], pos * kvDim, kvDim);
            float[] kc = keyCache[l], vc = valueCache[l];
            Parallel.forRange(nh, (long) (pos + 1) * hs * 2, (lo, hi) -> {
                for (int h = lo; h < hi; h++) {
                    int kvOff = (h / group) * hs, a = h * cfg.seqLen();
                    float max = Float.NEGATIVE_INFINITY;
                    for (int t = 0; t <= pos; t++) {
                        float s = Parallel.dot(q, h * hs, kc, t * kvDim + kvOff, hs) * scale;
                        att[a + t] = s;
                        max = Math.max(max, s);
                    }
                    float sum = 0f;
                    for (int t = 0; t <= pos; t++) {
                        att[a + t] = (float) Math.exp(att[a + t] - max);
                        sum += att[a + t];
                    }
                    for (int j = 0; j < hs; j++) xb[h * hs + j] = 0f;
                    for (int t = 0; t <= pos; t++) Parallel.axpy(att[a + t] / sum, vc, t * kvDim + kvOff, xb, h * hs, hs);
                }
            });
            y.wo.matmul(xb, 1, xb2);
            for (int i = 0; i < c; i++) x[i] += xb2[i];
            RmsNorm.forward(x, y.ffnNorm, xb, rstd, 1, c, cfg.normEps());
            y.w1.matmul(xb, 1, hb);
            y.w3.matmul(xb, 1, hb2);
            for (int i = 0; i < hb.length; i++) hb[i] = hb[i] * (1.0f / (1.0f + (float) Math.exp(-hb[i]))) * hb2[i];
            y.w2.matmul(hb, 1, xb);
            for (int i = 0; i < c; i++) x[i] += xb[i];
        }
        RmsNorm.forward(x, w.finalNorm, xb, rstd, 1, c, cfg.normEps());
        w.classifier.matmul(xb, 1, logits);
        return logits;
    }
}
