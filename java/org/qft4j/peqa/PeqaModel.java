package org.qft4j.peqa;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.Device;
import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.RopeLayout;
import org.qft4j.llama.WeightMatrix;

/**
 * A LLaMA model with PEQA linear layers: every transformer-block matrix (wq wk wv wo w1 w2 w3) becomes a
 * b-bit {@link PeqaMatrix} by RTN; the token embedding / classifier and the norms stay fp32, as in PEQA's
 * and GPTQ's setups (only linear layers are quantized). Tuning then updates the scales only. The trainer can also
 * quantize the embedding / classifier (a linear layer too) and tune its scales; {@link #export} and {@link #load}
 * keep it b-bit then.
 */
public final class PeqaModel {
    private PeqaModel() {}

    /** The model with its block matrices RTN-quantized to {@code bits} on {@code device}; norms are shared, not copied. */
    public static LlamaWeights quantize(LlamaWeights model, Device device, int bits, int groupSize) {
        return model.mapMatrices((name, w) -> name.startsWith("layers.")
                ? PeqaMatrix.quantize(device, values(w), w.rows(), w.cols(), bits, groupSize) : w);
    }

    /** The PEQA matrices of a model in forward order: the trainable parameters' owners. */
    public static List<PeqaMatrix> matrices(LlamaWeights model) {
        List<PeqaMatrix> out = new ArrayList<>();
        for (WeightMatrix w : model.matricesInForwardOrder())
            if (w instanceof PeqaMatrix p) out.add(p);
        return out;
    }

    /** Trainable parameters (scales) of a PEQA model. */
    public static long trainableParameters(LlamaWeights model) {
        long n = 0;
        for (PeqaMatrix p : matrices(model)) n += p.trainableParameters();
        return n;
    }

    /** Closes the native memory of every PEQA matrix of the model. */
    public static void close(LlamaWeights model) {
        for (PeqaMatrix p : matrices(model)) p.close();
    }

    /**
     * Writes the tuned b-bit model ({@link PeqaFile}): packed block matrices with their current scales, the
     * embedding ("token_embedding", plus "classifier" when untied: packed when they are PEQA matrices, else fp32) and the
     * fp32 norms ("layers.L.attention_norm", "layers.L.ffn_norm", "final_norm", each (1, dim)).
     */
    public static void export(LlamaWeights model, Path file) throws IOException {
        Map<String, PackedWeight> packed = new LinkedHashMap<>();
        Map<String, PeqaFile.Dense> dense = new LinkedHashMap<>();
        put("token_embedding", model.tokenEmbedding, packed, dense);
        if (model.classifier != model.tokenEmbedding) put("classifier", model.classifier, packed, dense);
        for (int l = 0; l < model.layers.length; l++) {
            LlamaWeights.Layer y = model.layers[l];
            String p = "layers." + l + ".";
            dense.put(p + "attention_norm", new PeqaFile.Dense(1, y.attentionNorm.length, y.attentionNorm));
            dense.put(p + "ffn_norm", new PeqaFile.Dense(1, y.ffnNorm.length, y.ffnNorm));
            WeightMatrix[] ws = {y.wq, y.wk, y.wv, y.wo, y.w1, y.w2, y.w3};
            String[] names = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
            for (int i = 0; i < ws.length; i++) {
                if (!(ws[i] instanceof PeqaMatrix m))
                    throw new IllegalArgumentException(p + names[i] + " is not a PEQA matrix: " + ws[i]);
                packed.put(p + names[i], m.syncedWeight());
            }
        }
        dense.put("final_norm", new PeqaFile.Dense(1, model.finalNorm.length, model.finalNorm));
        PeqaFile.write(file, metadata(model.config), packed, dense);
    }

    /**
     * Reads a model written by {@link #export}: the block matrices as PEQA matrices on {@code device} (still b-bit,
     * ready for eval, generation or more scale tuning), embedding and norms fp32.
     */
    public static LlamaWeights load(Path file, Device device) throws IOException {
        PeqaFile.Contents c = PeqaFile.read(file, device);
        List<PeqaMatrix> made = new ArrayList<>();
        try {
            LlamaConfig cfg = config(c.metadata(), file);
            LlamaWeights.Layer[] layers = new LlamaWeights.Layer[cfg.nLayers()];
            for (int l = 0; l < layers.length; l++) {
                String p = "layers." + l + ".";
                layers[l] = new LlamaWeights.Layer(norm(c, p + "attention_norm", file), matrix(c, p + "wq", made, file),
                        matrix(c, p + "wk", made, file), matrix(c, p + "wv", made, file), matrix(c, p + "wo", made, file),
                        norm(c, p + "ffn_norm", file), matrix(c, p + "w1", made, file), matrix(c, p + "w2", made, file),
                        matrix(c, p + "w3", made, file));
            }
            WeightMatrix emb = embedding(c, "token_embedding", made, file);
            WeightMatrix cls = cfg.sharedClassifier() ? emb : embedding(c, "classifier", made, file);
            LlamaWeights model = new LlamaWeights(cfg, emb, cls, layers, norm(c, "final_norm", file));
            c.close(); // packed tensors the model does not use
            return model;
        } catch (IOException | RuntimeException e) {
            for (PeqaMatrix m : made) m.close();
            c.close();
            throw e;
        }
    }

    private static Map<String, String> metadata(LlamaConfig cfg) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "qft4j-peqa-llama");
        m.put("dim", "" + cfg.dim());
        m.put("hidden_dim", "" + cfg.hiddenDim());
        m.put("n_layers", "" + cfg.nLayers());
        m.put("n_heads", "" + cfg.nHeads());
        m.put("n_kv_heads", "" + cfg.nKvHeads());
        m.put("vocab_size", "" + cfg.vocabSize());
        m.put("seq_len", "" + cfg.seqLen());
        m.put("norm_eps", "" + cfg.normEps());
        m.put("rope_theta", "" + cfg.ropeTheta());
        m.put("rope_layout", cfg.ropeLayout().name());
        m.put("shared_classifier", "" + cfg.sharedClassifier());
        return m;
    }

    private static LlamaConfig config(Map<String, String> m, Path file) throws IOException {
        if (!"qft4j-peqa-llama".equals(m.get("format"))) throw new IOException(file + " does not hold a PEQA LLaMA model");
        try {
            return new LlamaConfig(Integer.parseInt(m.get("dim")), Integer.parseInt(m.get("hidden_dim")),
                    Integer.parseInt(m.get("n_layers")), Integer.parseInt(m.get("n_heads")), Integer.parseInt(m.get("n_kv_heads")),
                    Integer.parseInt(m.get("vocab_size")), Integer.parseInt(m.get("seq_len")), Float.parseFloat(m.get("norm_eps")),
                    Float.parseFloat(m.get("rope_theta")), RopeLayout.valueOf(m.get("rope_layout")),
                    Boolean.parseBoolean(m.get("shared_classifier")));
        } catch (RuntimeException e) {
            throw new IOException(file + ": bad model config " + m + ": " + e.getMessage(), e);
        }
    }

    private static PeqaMatrix matrix(PeqaFile.Contents c, String name, List<PeqaMatrix> made, Path file) throws IOException {
        PackedWeight w = c.packed().remove(name);
        if (w == null) throw new IOException(file + ": no packed tensor " + name);
        try {
            made.add(new PeqaMatrix(w));
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        return made.get(made.size() - 1);
    }

    /** The embedding or classifier as written: a PEQA matrix when packed, else fp32. */
    private static WeightMatrix embedding(PeqaFile.Contents c, String name, List<PeqaMatrix> made, Path file) throws IOException {
        return c.packed().containsKey(name) ? matrix(c, name, made, file) : fp32(c, name, file);
    }

    private static void put(String name, WeightMatrix w, Map<String, PackedWeight> packed, Map<String, PeqaFile.Dense> dense) {
        if (w instanceof PeqaMatrix m) packed.put(name, m.syncedWeight());
        else dense.put(name, dense(w));
    }

    private static Fp32Matrix fp32(PeqaFile.Contents c, String name, Path file) throws IOException {
        PeqaFile.Dense d = c.dense().get(name);
        if (d == null) throw new IOException(file + ": no tensor " + name);
        return new Fp32Matrix(d.rows(), d.cols(), d.values());
    }

    private static float[] norm(PeqaFile.Contents c, String name, Path file) throws IOException {
        PeqaFile.Dense d = c.dense().get(name);
        if (d == null) throw new IOException(file + ": no tensor " + name);
        return d.values();
    }

    private static PeqaFile.Dense dense(WeightMatrix w) {
        return new PeqaFile.Dense(w.rows(), w.cols(), values(w));
    }

    private static float[] values(WeightMatrix w) {
        return w instanceof Fp32Matrix f ? f.weights() : Fp32Matrix.copyOf(w).weights();
    }
}
