package org.qft4j.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.WeightMatrix;

/**
 * Writes a model as a llama2.c legacy (version 0) checkpoint, the format {@code Llama2cFormat} reads: a header of
 * 7 int32 (vocab_size negative when the classifier is not tied), the fp32 tensors grouped by kind across layers,
 * the classifier when untied. RoPE tables are not written (the loader does not read them).
 */
public final class ModelFiles {
    private ModelFiles() {}

    public static void writeLlama2c(LlamaWeights w, Path file) throws IOException {
        LlamaConfig c = w.config;
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer h = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(c.dim()).putInt(c.hiddenDim()).putInt(c.nLayers()).putInt(c.nHeads()).putInt(c.nKvHeads())
                    .putInt(c.sharedClassifier() ? c.vocabSize() : -c.vocabSize()).putInt(c.seqLen());
            write(ch, h.flip());
            matrix(ch, w.tokenEmbedding);
            for (LlamaWeights.Layer y : w.layers) floats(ch, y.attentionNorm);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.wq);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.wk);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.wv);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.wo);
            for (LlamaWeights.Layer y : w.layers) floats(ch, y.ffnNorm);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.w1);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.w2);
            for (LlamaWeights.Layer y : w.layers) matrix(ch, y.w3);
            floats(ch, w.finalNorm);
            floats(ch, new float[c.seqLen() * c.headSize()]); // the two legacy RoPE tables, (seq_len, head_size/2) each
            if (!c.sharedClassifier()) matrix(ch, w.classifier);
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** A llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. */
    public static void writeTokenizer(byte[][] pieces, float[] scores, Path file) throws IOException {
        int max = 1, size = 4;
        for (byte[] p : pieces) {
            max = Math.max(max, p.length);
            size += 8 + p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN).putInt(max);
        for (int i = 0; i < pieces.length; i++) b.putFloat(scores[i]).putInt(pieces[i].length).put(pieces[i]);
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        Files.write(file, b.array());
    }

    private static void matrix(FileChannel ch, WeightMatrix m) throws IOException {
        float[] row = new float[m.cols()];
        ByteBuffer b = ByteBuffer.allocate(4 * m.cols()).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < m.rows(); r++) {
            m.row(r, row, 0);
            b.clear();
            b.asFloatBuffer().put(row);
            write(ch, b);
        }
    }

    private static void floats(FileChannel ch, float[] v) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        write(ch, b);
    }

    private static void write(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
