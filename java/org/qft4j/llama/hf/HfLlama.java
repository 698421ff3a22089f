package org.qft4j.llama.hf;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.Json;
import org.qft4j.checkpoint.Safetensors;
import org.qft4j.checkpoint.SafetensorsFile;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.llama.CheckpointFormatException;
import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.RopeLayout;
import org.qft4j.llama.WeightMatrix;

/**
 * Hugging Face LLaMA directories: {@code config.json} plus {@code model.safetensors} or shards listed in
 * {@code model.safetensors.index.json}. HF applies RoPE with rotate-half, so a model with Meta's adjacent-pair
 * layout has its wq/wk rows permuted on the way out (as transformers' convert_llama_weights_to_hf.py does) and a
 * model read from HF uses {@link RopeLayout#ROTATE_HALF}; both compute the same function. The files are
 * read and written with the validated safetensors code of {@link org.qft4j.checkpoint}.
 */
public final class HfLlama {
    private HfLlama() {}

    /** Writes weights as an HF directory (created if needed) with dtype "F32" or "BF16". */
    public static void write(LlamaWeights w, Path dir, String dtype) throws IOException {
        if (!dtype.equals("F32") && !dtype.equals("BF16")) throw new IllegalArgumentException("HfLlama.write: dtype " + dtype + " (supported: F32, BF16)");
        LlamaConfig c = w.config;
        Files.createDirectories(dir);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("architectures", List.of("LlamaForCausalLM"));
        cfg.put("model_type", "llama");
        cfg.put("hidden_size", (long) c.dim());
        cfg.put("intermediate_size", (long) c.hiddenDim());
        cfg.put("num_hidden_layers", (long) c.nLayers());
        cfg.put("num_attention_heads", (long) c.nHeads());
        cfg.put("num_key_value_heads", (long) c.nKvHeads());
        cfg.put("vocab_size", (long) c.vocabSize());
        cfg.put("max_position_embeddings", (long) c.seqLen());
        cfg.put("rms_norm_eps", (double) c.normEps());
        cfg.put("rope_theta", (double) c.ropeTheta());
        cfg.put("hidden_act", "silu");
        cfg.put("tie_word_embeddings", c.sharedClassifier());
        cfg.put("bos_token_id", 1L);
        cfg.put("eos_token_id", 2L);
        cfg.put("torch_dtype", dtype.equals("BF16") ? "bfloat16" : "float32");
        Files.writeString(dir.resolve("config.json"), Json.write(cfg) + "\n");

        boolean permute = c.ropeLayout() == RopeLayout.ADJACENT_PAIRS;
        Map<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        put(t, shapes, "model.embed_tokens.weight", w.tokenEmbedding);
        for (int l = 0; l < c.nLayers(); l++) {
            LlamaWeights.Layer y = w.layers[l];
            String p = "model.layers." + l + ".";
            put(t, shapes, p + "input_layernorm.weight", y.attentionNorm);
            put(t, shapes, p + "self_attn.q_proj.weight", y.wq);
            put(t, shapes, p + "self_attn.k_proj.weight", y.wk);
            if (permute) {
                t.put(p + "self_attn.q_proj.weight", adjacentToHalf(t.get(p + "self_attn.q_proj.weight"), c.dim(), c.nHeads(), c.headSize()));
                t.put(p + "self_attn.k_proj.weight", adjacentToHalf(t.get(p + "self_attn.k_proj.weight"), c.dim(), c.nKvHeads(), c.headSize()));
            }
            put(t, shapes, p + "self_attn.v_proj.weight", y.wv);
            put(t, shapes, p + "self_attn.o_proj.weight", y.wo);
            put(t, shapes, p + "post_attention_layernorm.weight", y.ffnNorm);
            put(t, shapes, p + "mlp.gate_proj.weight", y.w1);
            put(t, shapes, p + "mlp.up_proj.weight", y.w3);
            put(t, shapes, p + "mlp.down_proj.weight", y.w2);
        }
        put(t, shapes, "model.norm.weight", w.finalNorm);
        if (!c.sharedClassifier()) put(t, shapes, "lm_head.weight", w.classifier);
        Map<String, TensorBuffer> out = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : t.entrySet()) {
            long[] shape = shapes.get(e.getKey());
            out.put(e.getKey(), dtype.equals("BF16") ? TensorBuffer.ofBf16(e.getValue(), shape) : TensorBuffer.ofFloats(e.getValue(), shape));
        }
        writeSafetensors(dir.resolve("model.safetensors"), out, Map.of("format", "pt"));
    }

    /** Writes one safetensors file (replacing it), e.g. a shard of an HF directory. */
    public static void writeSafetensors(Path file, Map<String, TensorBuffer> tensors, Map<String, String> metadata) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            Safetensors.write(ch, tensors, metadata);
        }
    }

    /** Opens and validates one safetensors file; a malformed file is a {@link CheckpointFormatException}. */
    public static SafetensorsFile readSafetensors(Path file) throws CheckpointFormatException {
        try {
            return SafetensorsFile.read(file);
        } catch (CheckpointException e) {
            throw new CheckpointFormatException(e.getMessage());
        }
    }

    /** Reads an HF LLaMA directory into fp32 weights with the rotate-half RoPE layout. */
    public static LlamaWeights read(Path dir) throws IOException {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) throw new CheckpointFormatException(dir + ": no config.json; not a Hugging Face model directory");
        Map<?, ?> cfg;
        try {
            cfg = (Map<?, ?>) Json.parse(readUtf8(cfgFile));
        } catch (Json.ParseException | ClassCastException e) {
            throw new CheckpointFormatException(cfgFile + ": not a JSON object (" + e.getMessage() + ")");
        }
        int dim = intField(cfgFile, cfg, "hidden_size", null), heads = intField(cfgFile, cfg, "num_attention_heads", null);
        LlamaConfig c;
        try {
            c = new LlamaConfig(dim, intField(cfgFile, cfg, "intermediate_size", null), intField(cfgFile, cfg, "num_hidden_layers", null), heads,
                    intField(cfgFile, cfg, "num_key_value_heads", heads), intField(cfgFile, cfg, "vocab_size", null),
                    intField(cfgFile, cfg, "max_position_embeddings", 2048), (float) number(cfgFile, cfg, "rms_norm_eps", 1e-6),
                    (float) number(cfgFile, cfg, "rope_theta", 10000.0), RopeLayout.ROTATE_HALF, Boolean.TRUE.equals(cfg.get("tie_word_embeddings")));
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(cfgFile + ": " + e.getMessage());
        }
        if (cfg.get("head_dim") instanceof Long hd && hd != c.headSize())
            throw new CheckpointFormatException(cfgFile + ": head_dim " + hd + " differs from hidden_size / num_attention_heads = " + c.headSize() + " (not supported)");
        if (cfg.get("hidden_act") instanceof String act && !act.equals("silu"))
            throw new CheckpointFormatException(cfgFile + ": hidden_act " + act + " is not supported (silu only)");
        if (cfg.get("rope_scaling") instanceof Map<?, ?>)
            throw new CheckpointFormatException(cfgFile + ": rope_scaling is not supported");

        Map<String, Path> where = tensorFiles(dir);
        Loader ld = new Loader(where);
        int d = c.dim(), kv = c.kvDim(), h = c.hiddenDim();
        WeightMatrix emb = ld.matrix("model.embed_tokens.weight", c.vocabSize(), d);
        LlamaWeights.Layer[] layers = new LlamaWeights.Layer[c.nLayers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            layers[l] = new LlamaWeights.Layer(ld.vector(p + "input_layernorm.weight", d), ld.matrix(p + "self_attn.q_proj.weight", d, d),
                    ld.matrix(p + "self_attn.k_proj.weight", kv, d), ld.matrix(p + "self_attn.v_proj.weight", kv, d),
                    ld.matrix(p + "self_attn.o_proj.weight", d, d), ld.vector(p + "post_attention_layernorm.weight", d),
                    ld.matrix(p + "mlp.gate_proj.weight", h, d), ld.matrix(p + "mlp.down_proj.weight", d, h), ld.matrix(p + "mlp.up_proj.weight", h, d));
        }
        float[] norm = ld.vector("model.norm.weight", d);
        WeightMatrix cls = c.sharedClassifier() ? emb : ld.matrix("lm_head.weight", c.vocabSize(), d);
        return new LlamaWeights(c, emb, cls, layers, norm);
    }

    private static final class Loader {
        final Map<String, Path> where;
        final Map<Path, SafetensorsFile> open = new HashMap<>();

        Loader(Map<String, Path> where) {
            this.where = where;
        }

        float[] read(String name, long... shape) throws IOException {
            Path file = where.get(name);
            if (file == null) throw new CheckpointFormatException("HF model: tensor '" + name + "' is missing");
            SafetensorsFile st = open.get(file);
            if (st == null) {
                st = readSafetensors(file);
                open.put(file, st);
            }
            TensorBuffer e = st.tensors().get(name);
            if (e == null) throw new CheckpointFormatException(file + ": the index lists '" + name + "' but the file does not hold it");
            if (!Arrays.equals(e.shape(), shape))
                throw new CheckpointFormatException(file + ": '" + name + "' has shape " + Arrays.toString(e.shape()) + ", config.json implies " + Arrays.toString(shape));
            try {
                return e.toFloats();
            } catch (IllegalStateException notFloat) {
                throw new CheckpointFormatException(file + ": '" + name + "': " + notFloat.getMessage());
            }
        }

        Fp32Matrix matrix(String name, int rows, int cols) throws IOException {
            return new Fp32Matrix(rows, cols, read(name, rows, cols));
        }

        float[] vector(String name, int n) throws IOException {
            return read(name, n);
        }
    }

    /** Tensor name to the file holding it: from the shard index, or from the directory's single safetensors file. */
    private static Map<String, Path> tensorFiles(Path dir) throws IOException {
        Map<String, Path> out = new HashMap<>();
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) {
            Object root;
            try {
                root = Json.parse(readUtf8(index));
            } catch (Json.ParseException e) {
                throw new CheckpointFormatException(index + ": " + e.getMessage());
            }
            if (!(root instanceof Map<?, ?> m) || !(m.get("weight_map") instanceof Map<?, ?> wm))
                throw new CheckpointFormatException(index + ": no weight_map object");
            for (Map.Entry<?, ?> e : wm.entrySet()) {
                if (!(e.getValue() instanceof String f) || f.contains("/") || f.contains("\\"))
                    throw new CheckpointFormatException(index + ": weight_map entry '" + e.getKey() + "' must name a file in the directory");
                Path p = dir.resolve(f);
                if (!Files.isRegularFile(p)) throw new CheckpointFormatException(index + ": shard " + f + " does not exist");
                out.put((String) e.getKey(), p);
            }
            return out;
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.safetensors")) {
            ds.forEach(files::add);
        }
        if (files.size() != 1)
            throw new CheckpointFormatException(dir + ": expected one *.safetensors file or model.safetensors.index.json, found " + files.size() + " safetensors files");
        for (String name : readSafetensors(files.get(0)).tensors().keySet()) out.put(name, files.get(0));
        return out;
    }

    private static void put(Map<String, float[]> t, Map<String, long[]> shapes, String name, WeightMatrix m) {
        float[] a = new float[m.rows() * m.cols()];
        for (int r = 0; r < m.rows(); r++) m.row(r, a, r * m.cols());
        t.put(name, a);
        shapes.put(name, new long[] {m.rows(), m.cols()});
    }

    private static void put(Map<String, float[]> t, Map<String, long[]> shapes, String name, float[] vector) {
        t.put(name, vector);
        shapes.put(name, new long[] {vector.length});
    }

    /** Row h*hs + 2j + s (Meta) moves to h*hs + s*hs/2 + j (HF), for every head h, pair j, member s; rows hold cols values. */
    static float[] adjacentToHalf(float[] t, int cols, int heads, int hs) {
        int half = hs / 2;
        float[] out = new float[t.length];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < half; j++)
                for (int s = 0; s < 2; s++)
                    System.arraycopy(t, (h * hs + 2 * j + s) * cols, out, (h * hs + s * half + j) * cols, cols);
        return out;
    }

    /** The file as UTF-8 text; bytes that are not UTF-8 are a format error, not an I/O error. */
    private static String readUtf8(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new CheckpointFormatException(file + ": not valid UTF-8 text, so not a JSON file");
        }
    }

    private static int intField(Path f, Map<?, ?> cfg, String key, Integer dflt) throws CheckpointFormatException {
        Object v = cfg.get(key);
        if (v == null && dflt != null) return dflt;
        if (!(v instanceof Long n) || n <= 0 || n > Integer.MAX_VALUE) throw new CheckpointFormatException(f + ": '" + key + "' must be a positive integer, got " + v);
        return (int) (long) n;
    }

    private static double number(Path f, Map<?, ?> cfg, String key, double dflt) throws CheckpointFormatException {
        Object v = cfg.get(key);
        if (v == null) return dflt;
        if (!(v instanceof Number n)) throw new CheckpointFormatException(f + ": '" + key + "' must be a number, got " + v);
        return n.doubleValue();
    }
}
