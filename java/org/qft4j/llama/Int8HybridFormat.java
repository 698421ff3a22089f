package org.qft4j.llama;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.Safetensors;
import org.qft4j.checkpoint.SafetensorsFile;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;

/**
 * The INT8 hybrid inference checkpoint: one safetensors file holding every weight matrix in QFT's hybrid format
 * as the trainer stores it ({@code <name>.codes} I8 (rows, cols), {@code .scales} F32 (rows), {@code .row_ptr} I32
 * (rows+1), {@code .col_idx} I32 (nnz), {@code .values} F32 (nnz)), the norm vectors in fp32, and the model config
 * in {@code __metadata__} under {@value #FORMAT_KEY}-prefixed keys. About 1 byte per parameter plus 1% outliers.
 * {@link ModelLoader} opens it; the CPU engine runs on the dequantized weights, which are exactly what training used.
 */
public final class Int8HybridFormat {
    public static final String FORMAT_KEY = "qft4j.int8_hybrid";
    public static final String VERSION = "1";

    private Int8HybridFormat() {}

    /** How a matrix is stored: its hybrid arrays (the trainer's own, or a fresh quantization of an fp32 matrix). */
    public record Hybrid(int rows, int cols, byte[] codes, float[] scales, int[] rowPtr, int[] colIdx, float[] values) {
        public static Hybrid of(HybridWeight h) {
            return new Hybrid(h.rows(), h.cols(), h.codes().toBytes(), h.scales().toFloats(), h.rowPtr().toInts(),
                    h.colIdx().toInts(), h.values().toFloats());
        }

        /** Quantizes any matrix with QFT's hybrid quantizer: for matrices that were not trained in INT8. */
        public static Hybrid quantize(WeightMatrix m, double outlierFraction) {
            float[] w = new float[m.rows() * m.cols()];
            for (int r = 0; r < m.rows(); r++) m.row(r, w, r * m.cols());
            try (HybridWeight h = HybridWeight.quantize(w, m.rows(), m.cols(), HybridConfig.outliers(outlierFraction))) {
                return of(h);
            }
        }
    }

    /** Source of each matrix's hybrid form. */
    public interface HybridSource {
        Hybrid of(WeightMatrix m);
    }

    /**
     * Writes w to file (replacing it via a temporary file), each matrix as {@code source} gives it, all with the
     * same outlier fraction (it fixes each matrix's outlier count, which the reader checks).
     */
    public static void write(LlamaWeights w, double outlierFraction, HybridSource source, Path file) throws IOException {
        LlamaConfig c = w.config;
        Map<String, TensorBuffer> t = new LinkedHashMap<>();
        matrix(t, "tok_embeddings", source.of(w.tokenEmbedding));
        for (int l = 0; l < c.nLayers(); l++) {
            LlamaWeights.Layer y = w.layers[l];
            String p = "layers." + l + ".";
            t.put(p + "attention_norm", TensorBuffer.ofFloats(y.attentionNorm, c.dim()));
            matrix(t, p + "wq", source.of(y.wq));
            matrix(t, p + "wk", source.of(y.wk));
            matrix(t, p + "wv", source.of(y.wv));
            matrix(t, p + "wo", source.of(y.wo));
            t.put(p + "ffn_norm", TensorBuffer.ofFloats(y.ffnNorm, c.dim()));
            matrix(t, p + "w1", source.of(y.w1));
            matrix(t, p + "w2", source.of(y.w2));
            matrix(t, p + "w3", source.of(y.w3));
        }
        t.put("final_norm", TensorBuffer.ofFloats(w.finalNorm, c.dim()));
        if (!c.sharedClassifier()) matrix(t, "classifier", source.of(w.classifier));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(FORMAT_KEY, VERSION);
        meta.put(FORMAT_KEY + ".outlier_fraction", Double.toString(outlierFraction));
        meta.put(FORMAT_KEY + ".config", String.format(Locale.ROOT, "%d %d %d %d %d %d %d %s %s %s %b", c.dim(), c.hiddenDim(),
                c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(), c.seqLen(), Float.toString(c.normEps()),
                Float.toString(c.ropeTheta()), c.ropeLayout().name(), c.sharedClassifier()));
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            Safetensors.write(ch, t, meta);
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void matrix(Map<String, TensorBuffer> t, String name, Hybrid h) {
        t.put(name + ".codes", TensorBuffer.ofBytes(DType.I8, h.codes(), h.rows(), h.cols()));
        t.put(name + ".scales", TensorBuffer.ofFloats(h.scales(), h.rows()));
        t.put(name + ".row_ptr", TensorBuffer.ofInts(h.rowPtr(), h.rows() + 1L));
        t.put(name + ".col_idx", TensorBuffer.ofInts(h.colIdx(), h.colIdx().length));
        t.put(name + ".values", TensorBuffer.ofFloats(h.values(), h.values().length));
    }

    /** Whether a safetensors file is an INT8 hybrid inference checkpoint (reads only its header). */
    public static boolean is(SafetensorsFile f) {
        return f.metadata().containsKey(FORMAT_KEY);
    }

    /** Reads an INT8 hybrid checkpoint into fp32 weights (the dequantized hybrid weights). */
    public static LlamaWeights read(SafetensorsFile f) throws CheckpointFormatException {
        Path file = f.file();
        if (!VERSION.equals(f.metadata().get(FORMAT_KEY)))
            throw new CheckpointFormatException(file + ": INT8 hybrid format version " + f.metadata().get(FORMAT_KEY) + ", this SDK reads " + VERSION);
        LlamaConfig c;
        try {
            String[] p = f.metadata().getOrDefault(FORMAT_KEY + ".config", "").split(" ");
            c = new LlamaConfig(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]),
                    Integer.parseInt(p[4]), Integer.parseInt(p[5]), Integer.parseInt(p[6]), Float.parseFloat(p[7]), Float.parseFloat(p[8]),
                    RopeLayout.valueOf(p[9]), Boolean.parseBoolean(p[10]));
        } catch (RuntimeException e) {
            throw new CheckpointFormatException(file + ": the model config in its metadata is missing or corrupt (" + e + ")");
        }
        HybridConfig hc;
        try {
            hc = HybridConfig.outliers(Double.parseDouble(f.metadata().get(FORMAT_KEY + ".outlier_fraction")));
        } catch (RuntimeException e) {
            throw new CheckpointFormatException(file + ": the outlier fraction in its metadata is missing or corrupt (" + e + ")");
        }
        WeightMatrix emb = matrix(f, hc, "tok_embeddings", c.vocabSize(), c.dim());
        LlamaWeights.Layer[] layers = new LlamaWeights.Layer[c.nLayers()];
        int kv = c.nKvHeads() * c.headSize();
        for (int l = 0; l < layers.length; l++) {
            String p = "layers." + l + ".";
            layers[l] = new LlamaWeights.Layer(vector(f, p + "attention_norm", c.dim()), matrix(f, hc, p + "wq", c.dim(), c.dim()),
                    matrix(f, hc, p + "wk", kv, c.dim()), matrix(f, hc, p + "wv", kv, c.dim()), matrix(f, hc, p + "wo", c.dim(), c.dim()),
                    vector(f, p + "ffn_norm", c.dim()), matrix(f, hc, p + "w1", c.hiddenDim(), c.dim()),
                    matrix(f, hc, p + "w2", c.dim(), c.hiddenDim()), matrix(f, hc, p + "w3", c.hiddenDim(), c.dim()));
        }
        WeightMatrix cls = c.sharedClassifier() ? emb : matrix(f, hc, "classifier", c.vocabSize(), c.dim());
        return new LlamaWeights(c, emb, cls, layers, vector(f, "final_norm", c.dim()));
    }

    private static TensorBuffer tensor(SafetensorsFile f, String name, DType dtype, long... shape) throws CheckpointFormatException {
        TensorBuffer t = f.tensors().get(name);
        if (t == null) throw new CheckpointFormatException(f.file() + ": missing tensor '" + name + "'");
        if (t.dtype() != dtype || (shape.length > 0 && !java.util.Arrays.equals(t.shape(), shape)))
            throw new CheckpointFormatException(f.file() + ": tensor '" + name + "' is " + t + ", expected " + dtype + java.util.Arrays.toString(shape));
        return t;
    }

    private static float[] vector(SafetensorsFile f, String name, int n) throws CheckpointFormatException {
        return tensor(f, name, DType.F32, n).toFloats();
    }

    private static WeightMatrix matrix(SafetensorsFile f, HybridConfig config, String name, int rows, int cols) throws CheckpointFormatException {
        TensorBuffer values = tensor(f, name + ".values", DType.F32);
        try (HybridWeight h = HybridWeight.quantize(new float[rows * cols], rows, cols, config)) {
            if (values.numel() != h.nnz())
                throw new CheckpointFormatException(f.file() + ": '" + name + "' holds " + values.numel() + " outliers, the format keeps "
                        + h.nnz() + " (" + config.outlierFraction() + ") for a " + rows + "x" + cols + " matrix");
            h.restore(tensor(f, name + ".codes", DType.I8, rows, cols).toBytes(), tensor(f, name + ".scales", DType.F32, rows).toFloats(),
                    tensor(f, name + ".row_ptr", DType.I32, rows + 1L).toInts(), tensor(f, name + ".col_idx", DType.I32, h.nnz()).toInts(),
                    values.toFloats());
            float[] w = new float[rows * cols];
            h.dequantize(w);
            return new Fp32Matrix(rows, cols, w);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(f.file() + ": '" + name + "': " + e.getMessage());
        }
    }
}
