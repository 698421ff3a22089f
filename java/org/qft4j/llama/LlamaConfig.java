package org.qft4j.llama;

/**
 * Shape and hyperparameters of a LLaMA-family model.
 *
 * @param dim model width C
 * @param hiddenDim SwiGLU width H
 * @param nLayers number of transformer blocks L
 * @param nHeads query heads
 * @param nKvHeads key/value heads (grouped-query attention when fewer than nHeads)
 * @param vocabSize V
 * @param seqLen longest sequence the model (and its RoPE table) supports
 * @param normEps RMSNorm epsilon
 * @param ropeTheta RoPE base
 * @param ropeLayout pair layout of the rotary embedding
 * @param sharedClassifier the classifier is the token embedding matrix
 */
public record LlamaConfig(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen,
                          float normEps, float ropeTheta, RopeLayout ropeLayout, boolean sharedClassifier) {
    public LlamaConfig {
        if (dim <= 0 || hiddenDim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || vocabSize <= 0 || seqLen <= 0)
            throw new IllegalArgumentException("LlamaConfig: sizes must be positive: " + describe(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen));
        if (dim % nHeads != 0 || (dim / nHeads) % 2 != 0)
            throw new IllegalArgumentException("LlamaConfig: dim " + dim + " must split into " + nHeads + " heads of even size");
        if (nHeads % nKvHeads != 0)
            throw new IllegalArgumentException("LlamaConfig: n_heads " + nHeads + " is not a multiple of n_kv_heads " + nKvHeads);
        if (!(normEps > 0) || !(ropeTheta > 0) || ropeLayout == null)
            throw new IllegalArgumentException("LlamaConfig: need norm_eps > 0, rope_theta > 0 and a rope layout, got " + normEps + ", " + ropeTheta + ", " + ropeLayout);
    }

    /** llama2.c defaults: eps 1e-5, theta 10000, adjacent pairs. */
    public static LlamaConfig llama2c(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen, boolean shared) {
        return new LlamaConfig(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, 1e-5f, 10000f, RopeLayout.ADJACENT_PAIRS, shared);
    }

    public int headSize() {
        return dim / nHeads;
    }

    /** Width of the key/value projections: nKvHeads * headSize. */
    public int kvDim() {
        return nKvHeads * headSize();
    }

    public LlamaConfig withRopeLayout(RopeLayout layout) {
        return new LlamaConfig(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, normEps, ropeTheta, layout, sharedClassifier);
    }

    /** Number of parameters (tied classifier counted once). */
    public long parameterCount() {
        long perLayer = 2L * dim + (long) dim * dim * 2 + 2L * kvDim() * dim + 3L * hiddenDim * dim;
        return (long) vocabSize * dim * (sharedClassifier ? 1 : 2) + nLayers * perLayer + dim;
    }

    private static String describe(int... v) {
        return String.format("dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d seq_len=%d", v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    }
}
