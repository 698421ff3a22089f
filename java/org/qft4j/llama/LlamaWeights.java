package org.qft4j.llama;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

/**
 * The parameters of a LLaMA model. Weight matrices are reached only through {@link WeightMatrix}; the small
 * RMSNorm weights are fp32 vectors, each with a gradient vector that backward accumulates into (+=).
 */
public final class LlamaWeights {
    public final LlamaConfig config;
    public final WeightMatrix tokenEmbedding; // (V, C)
    public final WeightMatrix classifier;     // (V, C); the same object as tokenEmbedding when shared
    public final Layer[] layers;
    public final float[] finalNorm;           // (C)
    public final float[] finalNormGradient;   // (C)

    /** One transformer block. */
    public static final class Layer {
        public final float[] attentionNorm;         // (C)
        public final float[] attentionNormGradient; // (C)
        public final WeightMatrix wq;               // (C, C)
        public final WeightMatrix wk;               // (KV, C)
        public final WeightMatrix wv;               // (KV, C)
        public final WeightMatrix wo;               // (C, C)
        public final float[] ffnNorm;               // (C)
        public final float[] ffnNormGradient;       // (C)
        public final WeightMatrix w1;               // (H, C) gate
        public final WeightMatrix w2;               // (C, H) down
        public final WeightMatrix w3;               // (H, C) up

        public Layer(float[] attentionNorm, WeightMatrix wq, WeightMatrix wk, WeightMatrix wv, WeightMatrix wo,
                     float[] ffnNorm, WeightMatrix w1, WeightMatrix w2, WeightMatrix w3) {
            this.attentionNorm = attentionNorm;
            this.attentionNormGradient = new float[attentionNorm.length];
            this.wq = wq;
            this.wk = wk;
            this.wv = wv;
            this.wo = wo;
            this.ffnNorm = ffnNorm;
            this.ffnNormGradient = new float[ffnNorm.length];
            this.w1 = w1;
            this.w2 = w2;
            this.w3 = w3;
        }
    }

    /**
     * Checks every shape against the config. For a shared classifier pass the embedding matrix twice
     * (or null as classifier).
     */
    public LlamaWeights(LlamaConfig config, WeightMatrix tokenEmbedding, WeightMatrix classifier, Layer[] layers, float[] finalNorm) {
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.classifier = config.sharedClassifier() ? tokenEmbedding : classifier;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.finalNormGradient = new float[finalNorm.length];
        int c = config.dim(), kv = config.kvDim(), h = config.hiddenDim(), v = config.vocabSize();
        if (config.sharedClassifier() && classifier != null && classifier != tokenEmbedding)
            throw new IllegalArgumentException("LlamaWeights: config says the classifier is shared but a separate classifier was given");
        check("token_embedding", tokenEmbedding, v, c);
        check("classifier", this.classifier, v, c);
        check("final_norm", finalNorm, c);
        if (layers.length != config.nLayers())
            throw new IllegalArgumentException("LlamaWeights: " + layers.length + " layers given, config has " + config.nLayers());
        for (int l = 0; l < layers.length; l++) {
            Layer y = layers[l];
            String p = "layers." + l + ".";
            check(p + "attention_norm", y.attentionNorm, c);
            check(p + "ffn_norm", y.ffnNorm, c);
            check(p + "wq", y.wq, c, c);
            check(p + "wk", y.wk, kv, c);
            check(p + "wv", y.wv, kv, c);
            check(p + "wo", y.wo, c, c);
            check(p + "w1", y.w1, h, c);
            check(p + "w2", y.w2, c, h);
            check(p + "w3", y.w3, h, c);
        }
    }

    /** A model with N(0, std) fp32 weights and unit norms; for tests and training from scratch. */
    public static LlamaWeights random(LlamaConfig config, long seed, float std) {
        Random rnd = new Random(seed);
        int c = config.dim(), kv = config.kvDim(), h = config.hiddenDim(), v = config.vocabSize();
        Layer[] layers = new Layer[config.nLayers()];
        for (int l = 0; l < layers.length; l++)
            layers[l] = new Layer(norm(c, rnd), gauss(c, c, rnd, std), gauss(kv, c, rnd, std), gauss(kv, c, rnd, std), gauss(c, c, rnd, std),
                    norm(c, rnd), gauss(h, c, rnd, std), gauss(c, h, rnd, std), gauss(h, c, rnd, std));
        Fp32Matrix emb = gauss(v, c, rnd, std);
        return new LlamaWeights(config, emb, config.sharedClassifier() ? emb : gauss(v, c, rnd, std), layers, norm(c, rnd));
    }

    /**
     * The same model with every weight matrix converted, e.g. to QFT's hybrid INT8 weight. The function gets the
     * matrix name ("token_embedding", "classifier", "layers.3.wq", ...) and is called once per distinct matrix, so a
     * tied embedding stays tied. Norm weights are shared with this object (not copied).
     */
    public LlamaWeights mapMatrices(BiFunction<String, WeightMatrix, WeightMatrix> convert) {
        Map<WeightMatrix, WeightMatrix> done = new IdentityHashMap<>();
        BiFunction<String, WeightMatrix, WeightMatrix> once = (n, m) -> done.computeIfAbsent(m, k -> convert.apply(n, k));
        Layer[] out = new Layer[layers.length];
        WeightMatrix emb = once.apply("token_embedding", tokenEmbedding);
        for (int l = 0; l < layers.length; l++) {
            Layer y = layers[l];
            String p = "layers." + l + ".";
            out[l] = new Layer(y.attentionNorm, once.apply(p + "wq", y.wq), once.apply(p + "wk", y.wk), once.apply(p + "wv", y.wv),
                    once.apply(p + "wo", y.wo), y.ffnNorm, once.apply(p + "w1", y.w1), once.apply(p + "w2", y.w2), once.apply(p + "w3", y.w3));
        }
        WeightMatrix cls = once.apply("classifier", classifier);
        return new LlamaWeights(config, emb, cls, out, finalNorm);
    }

    /** Deep fp32 copy (norms copied too). */
    public LlamaWeights toFp32() {
        LlamaWeights m = mapMatrices((n, w) -> Fp32Matrix.copyOf(w));
        Layer[] out = new Layer[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Layer y = m.layers[l];
            out[l] = new Layer(y.attentionNorm.clone(), y.wq, y.wk, y.wv, y.wo, y.ffnNorm.clone(), y.w1, y.w2, y.w3);
        }
        return new LlamaWeights(config, m.tokenEmbedding, m.classifier, out, finalNorm.clone());
    }

    /** Every distinct weight matrix in forward order (embedding, per layer wq wk wv wo w1 w3 w2, classifier if untied). */
    public List<WeightMatrix> matricesInForwardOrder() {
        List<WeightMatrix> out = new ArrayList<>();
        out.add(tokenEmbedding);
        for (Layer y : layers) out.addAll(List.of(y.wq, y.wk, y.wv, y.wo, y.w1, y.w3, y.w2));
        if (classifier != tokenEmbedding) out.add(classifier);
        return out;
    }

    /** Zeroes the norm-weight gradients (weight-matrix gradients belong to their implementations). */
    public void zeroNormGradients() {
        Arrays.fill(finalNormGradient, 0f);
        for (Layer y : layers) {
            Arrays.fill(y.attentionNormGradient, 0f);
            Arrays.fill(y.ffnNormGradient, 0f);
        }
    }

    private static Fp32Matrix gauss(int rows, int cols, Random rnd, float std) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * std);
        return new Fp32Matrix(rows, cols, w);
    }

    private static float[] norm(int c, Random rnd) {
        float[] w = new float[c];
        for (int i = 0; i < c; i++) w[i] = 1f + (float) (rnd.nextGaussian() * 0.1);
        return w;
    }

    private static void check(String name, WeightMatrix m, int rows, int cols) {
        if (m == null) throw new IllegalArgumentException("LlamaWeights: " + name + " is missing");
        if (m.rows() != rows || m.cols() != cols)
            throw new IllegalArgumentException("LlamaWeights: " + name + " is (" + m.rows() + ", " + m.cols() + "), expected (" + rows + ", " + cols + ")");
    }

    private static void check(String name, float[] v, int n) {
        if (v == null || v.length != n)
            throw new IllegalArgumentException("LlamaWeights: " + name + " has " + (v == null ? "no" : v.length) + " values, expected " + n);
    }
}
