package org.qft4j.llama;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads llama2.c checkpoints (karpathy/llama2.c, export.py):
 * <ul>
 *   <li>version 0 ("legacy"): 7 int32 header {@code dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 *   seq_len} (negative vocab_size: untied classifier), then fp32 tensors token_embedding (V,C), rms_att (L,C),
 *   wq (L,C,C), wk (L,KV,C), wv (L,KV,C), wo (L,C,C), rms_ffn (L,C), w1 (L,H,C), w2 (L,C,H), w3 (L,H,C),
 *   rms_final (C), two legacy RoPE tables (seq_len, hs/2) each, and the classifier (V,C) if untied.</li>
 *   <li>version 2 (runq's int8 export): uint32 magic 0x616b3432 "ak42", int32 version 2, the 7 ints, uint8
 *   shared_classifier, int32 group_size, zero padding to 256 bytes; fp32 rms_att (L,C), rms_ffn (L,C), rms_final (C);
 *   then Q8_0 tensors (all int8 values, then one fp32 scale per group): token_embedding, wq[L], wk[L], wv[L], wo[L],
 *   w1[L], w2[L], w3[L], and the classifier if not shared.</li>
 * </ul>
 */
public final class Llama2cFormat {
    static final int MAGIC = 0x616b3432;

    private Llama2cFormat() {}

    public static LlamaWeights load(Path path) throws IOException {
        long size = Files.size(path);
        if (size > Integer.MAX_VALUE - 8) throw new CheckpointFormatException(path + ": " + size + " bytes is over the 2 GiB this reader supports");
        if (size < 28) throw new CheckpointFormatException(path + ": truncated, " + size + " bytes is shorter than a llama2.c header");
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.getInt(0) == MAGIC) {
            int version = buf.getInt(4);
            if (version != 2)
                throw new CheckpointFormatException(path + ": llama2.c version " + version + " is not supported (only version 0 fp32 and version 2 int8)");
            return loadQ8(path, buf);
        }
        return loadV0(path, buf);
    }

    private static LlamaConfig header(Path path, ByteBuffer buf, boolean v0) throws CheckpointFormatException {
        int dim = buf.getInt(), hidden = buf.getInt(), layers = buf.getInt(), heads = buf.getInt(), kvHeads = buf.getInt(), vocab = buf.getInt(), seqLen = buf.getInt();
        boolean shared = vocab > 0;
        if (!v0) {
            if (vocab <= 0) throw new CheckpointFormatException(path + ": vocab_size " + vocab + " must be positive in a version-2 file");
            shared = buf.get() != 0;
        }
        try {
            return LlamaConfig.llama2c(dim, hidden, layers, heads, kvHeads, Math.abs(vocab), seqLen, shared);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(path + ": bad header (" + e.getMessage() + "); is this a llama2.c checkpoint?");
        }
    }

    private static LlamaWeights loadV0(Path path, ByteBuffer buf) throws CheckpointFormatException {
        LlamaConfig cfg = header(path, buf, true);
        int c = cfg.dim(), kv = cfg.kvDim(), h = cfg.hiddenDim(), v = cfg.vocabSize(), nl = cfg.nLayers();
        long floats = (long) v * c + 2L * nl * c + 2L * nl * c * c + 2L * nl * kv * c + 3L * nl * h * c + c
                + (long) cfg.seqLen() * cfg.headSize() + (cfg.sharedClassifier() ? 0 : (long) v * c);
        expectSize(path, buf, 28 + 4 * floats, cfg);
        float[] emb = floats(buf, v * c);
        float[] rmsAtt = floats(buf, nl * c);
        float[][] wq = perLayer(buf, nl, c * c), wk = perLayer(buf, nl, kv * c), wv = perLayer(buf, nl, kv * c), wo = perLayer(buf, nl, c * c);
        float[] rmsFfn = floats(buf, nl * c);
        float[][] w1 = perLayer(buf, nl, h * c), w2 = perLayer(buf, nl, c * h), w3 = perLayer(buf, nl, h * c);
        float[] rmsFinal = floats(buf, c);
        buf.position(buf.position() + 4 * cfg.seqLen() * cfg.headSize()); // the two unused RoPE tables
        LlamaWeights.Layer[] layers = new LlamaWeights.Layer[nl];
        for (int l = 0; l < nl; l++)
            layers[l] = new LlamaWeights.Layer(slice(rmsAtt, l, c), new Fp32Matrix(c, c, wq[l]), new Fp32Matrix(kv, c, wk[l]),
                    new Fp32Matrix(kv, c, wv[l]), new Fp32Matrix(c, c, wo[l]), slice(rmsFfn, l, c),
                    new Fp32Matrix(h, c, w1[l]), new Fp32Matrix(c, h, w2[l]), new Fp32Matrix(h, c, w3[l]));
        Fp32Matrix embedding = new Fp32Matrix(v, c, emb);
        Fp32Matrix classifier = cfg.sharedClassifier() ? embedding : new Fp32Matrix(v, c, floats(buf, v * c));
        return new LlamaWeights(cfg, embedding, classifier, layers, rmsFinal);
    }

    private static LlamaWeights loadQ8(Path path, ByteBuffer buf) throws CheckpointFormatException {
        if (buf.capacity() < 256) throw new CheckpointFormatException(path + ": truncated, " + buf.capacity() + " bytes is shorter than the 256-byte version-2 header");
        buf.position(8);
        LlamaConfig cfg = header(path, buf, false);
        int gs = buf.getInt();
        int c = cfg.dim(), kv = cfg.kvDim(), h = cfg.hiddenDim(), v = cfg.vocabSize(), nl = cfg.nLayers();
        if (gs <= 0 || c % gs != 0 || h % gs != 0)
            throw new CheckpointFormatException(path + ": group size " + gs + " must divide dim " + c + " and hidden_dim " + h);
        long q8 = (long) v * c * (cfg.sharedClassifier() ? 1 : 2) + (long) nl * (2L * c * c + 2L * kv * c + 3L * h * c);
        expectSize(path, buf, 256 + 4L * (2L * nl * c + c) + q8 + 4 * (q8 / gs), cfg);
        buf.position(256);
        float[] rmsAtt = floats(buf, nl * c), rmsFfn = floats(buf, nl * c), rmsFinal = floats(buf, c);
        Q8Matrix emb = q8(buf, v, c, gs);
        Q8Matrix[] wq = q8(buf, nl, c, c, gs), wk = q8(buf, nl, kv, c, gs), wv = q8(buf, nl, kv, c, gs), wo = q8(buf, nl, c, c, gs);
        Q8Matrix[] w1 = q8(buf, nl, h, c, gs), w2 = q8(buf, nl, c, h, gs), w3 = q8(buf, nl, h, c, gs);
        LlamaWeights.Layer[] layers = new LlamaWeights.Layer[nl];
        for (int l = 0; l < nl; l++)
            layers[l] = new LlamaWeights.Layer(slice(rmsAtt, l, c), wq[l], wk[l], wv[l], wo[l], slice(rmsFfn, l, c), w1[l], w2[l], w3[l]);
        Q8Matrix classifier = cfg.sharedClassifier() ? emb : q8(buf, v, c, gs);
        return new LlamaWeights(cfg, emb, classifier, layers, rmsFinal);
    }

    private static void expectSize(Path path, ByteBuffer buf, long expected, LlamaConfig cfg) throws CheckpointFormatException {
        if (buf.capacity() < expected)
            throw new CheckpointFormatException(path + ": truncated, " + buf.capacity() + " bytes but the header (" + cfg + ") needs " + expected);
        if (buf.capacity() > expected)
            throw new CheckpointFormatException(path + ": " + (buf.capacity() - expected) + " unexpected trailing bytes after the tensors of " + cfg);
    }

    private static float[] floats(ByteBuffer buf, int n) {
        float[] out = new float[n];
        buf.asFloatBuffer().get(out);
        buf.position(buf.position() + 4 * n);
        return out;
    }

    private static float[][] perLayer(ByteBuffer buf, int layers, int n) {
        float[][] out = new float[layers][];
        for (int l = 0; l < layers; l++) out[l] = floats(buf, n);
        return out;
    }

    private static float[] slice(float[] all, int l, int n) {
        float[] out = new float[n];
        System.arraycopy(all, l * n, out, 0, n);
        return out;
    }

    private static Q8Matrix q8(ByteBuffer buf, int rows, int cols, int gs) {
        byte[] q = new byte[rows * cols];
        buf.get(q);
        return new Q8Matrix(rows, cols, gs, q, floats(buf, rows * cols / gs));
    }

    private static Q8Matrix[] q8(ByteBuffer buf, int layers, int rows, int cols, int gs) {
        Q8Matrix[] out = new Q8Matrix[layers];
        for (int l = 0; l < layers; l++) out[l] = q8(buf, rows, cols, gs);
        return out;
    }
}
