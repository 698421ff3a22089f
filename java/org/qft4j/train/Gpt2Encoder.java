package org.qft4j.train;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;

/**
 * GPT-2's byte-level BPE (OpenAI's r50k_base, 50,257 tokens) through jtokkit: the real 50k vocabulary the GPU
 * benchmark's ~125M model trains with (issue 10), the same ids tiktoken and Hugging Face's GPT-2 tokenizer give.
 * GPT-2 has one special token, {@code <|endoftext|>} (50256), which both starts and ends documents. Thread-safe.
 */
public final class Gpt2Encoder implements TokenEncoder {
    /** Tokens in GPT-2's vocabulary; a model needs at least this many embedding rows. */
    public static final int VOCAB_SIZE = 50257;
    public static final int END_OF_TEXT = 50256;

    private final Encoding encoding = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

    @Override
    public int[] encode(String text) {
        // encodeOrdinary: text that spells "<|endoftext|>" is tokenized as text, never as the special token.
        return encoding.encodeOrdinary(text).toArray();
    }

    public String decode(int[] ids) {
        com.knuddels.jtokkit.api.IntArrayList l = new com.knuddels.jtokkit.api.IntArrayList(ids.length);
        for (int id : ids) l.add(id);
        return encoding.decode(l);
    }

    @Override
    public int bos() { return END_OF_TEXT; }

    @Override
    public int eos() { return END_OF_TEXT; }
}
