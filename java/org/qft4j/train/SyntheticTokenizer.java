package org.qft4j.train;

import java.nio.charset.StandardCharsets;
import org.qft4j.llama.TextTokenizer;
import org.qft4j.llama.Tokenizer;

/**
 * The tokenizer of the embedded default model, which the project trains itself: llama2.c's layout (id 0
 * {@code <unk>}, 1 BOS, 2 EOS, 3..258 byte fallback) followed by one piece per character of the synthetic
 * corpus's alphabet, and no merges. It is an ordinary llama2.c tokenizer, so it can be saved as tokenizer.bin.
 */
public final class SyntheticTokenizer {
    public static final String ALPHABET = " abcdefghijklmnopqrstuvwxyz.,";

    private SyntheticTokenizer() {}

    public static byte[][] pieces() {
        byte[][] p = new byte[259 + ALPHABET.length()][];
        p[0] = "<unk>".getBytes(StandardCharsets.US_ASCII);
        p[1] = "\n<s>\n".getBytes(StandardCharsets.US_ASCII);
        p[2] = "\n</s>\n".getBytes(StandardCharsets.US_ASCII);
        for (int b = 0; b < 256; b++) p[3 + b] = String.format("<0x%02X>", b).getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < ALPHABET.length(); i++) p[259 + i] = new byte[] {(byte) ALPHABET.charAt(i)};
        return p;
    }

    public static float[] scores() {
        return new float[259 + ALPHABET.length()];
    }

    public static Tokenizer create() {
        return new Tokenizer(pieces(), scores());
    }

    /** The data pipeline's view of a tokenizer: encodes without BOS/EOS (the pipeline adds the tokenizer's own). */
    public static TokenEncoder encoder(TextTokenizer t) {
        return new TokenEncoder() {
            @Override
            public int[] encode(String text) { return t.encode(text, false, false); }

            @Override
            public int bos() { return t.bos(); }

            @Override
            public int eos() { return t.eos(); }
        };
    }
}
