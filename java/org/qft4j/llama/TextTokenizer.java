package org.qft4j.llama;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Text to token ids and back, as the engine, {@code eval}, {@code generate} and {@code train} use it. Two kinds:
 * llama2.c's {@code tokenizer.bin} ({@link Tokenizer}) and Hugging Face's {@code tokenizer.json} through DJL
 * ({@link HfTokenizer}, which holds a native handle: close it).
 */
public interface TextTokenizer extends AutoCloseable {
    int vocabSize();

    /** Beginning of sequence: starts every encoded paragraph, prompt and training document. */
    int bos();

    /** End of sequence: ends JSONL responses. */
    int eos();

    /** The token ids of text, with BOS first and EOS last when asked (llama2.c's encode(text, bos, eos)). */
    int[] encode(String text, boolean bos, boolean eos);

    /** The bytes token prints after prevToken (a leading space is dropped after BOS, byte-fallback pieces are raw bytes). */
    byte[] decode(int prevToken, int token);

    /** Decodes a sequence the way run.c prints it (starting after prevToken). */
    default String decodeAll(int prevToken, int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int prev = prevToken;
        for (int t : tokens) {
            out.writeBytes(Tokenizer.printable(decode(prev, t)));
            prev = t;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Idempotent; a no-op for tokenizers without native state. */
    @Override
    default void close() {}

    /**
     * Opens a tokenizer by what the path is: a Hugging Face model directory holding tokenizer.json, a
     * {@code .json} file, or a llama2.c tokenizer.bin.
     */
    static TextTokenizer load(Path path) throws IOException {
        if (Files.isDirectory(path) || path.getFileName().toString().endsWith(".json")) return HfTokenizer.load(path);
        if (!Files.isRegularFile(path)) throw new CheckpointFormatException(path + ": no such tokenizer file or directory");
        return Tokenizer.load(path);
    }

    /** {@link #load(Path)}, refusing a tokenizer whose ids do not all fit the model's embedding table. */
    static TextTokenizer load(Path path, int modelVocabSize) throws IOException {
        TextTokenizer t = load(path);
        if (t.vocabSize() > modelVocabSize) {
            t.close();
            throw new CheckpointFormatException(path + ": the tokenizer has " + t.vocabSize() + " tokens, more than the model's vocabulary of "
                    + modelVocabSize + "; it belongs to another model");
        }
        return t;
    }
}
