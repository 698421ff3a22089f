package org.qft4j.llama;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** run.c's generate(): prompt tokens teacher-forced, then sampled tokens, stopping at BOS or after steps positions. */
public final class Generation {
    private Generation() {}

    /** The generated ids (prompt excluded) and the text run.c would print (prompt pieces after the first included). */
    public record Result(int[] tokens, String text) {}

    public static Result generate(LlamaGenerator model, TextTokenizer tokenizer, String prompt, int steps, Sampler sampler) {
        if (steps <= 0 || steps > model.config().seqLen())
            throw new IllegalArgumentException("generate: steps " + steps + " must be in [1, " + model.config().seqLen() + "]");
        int[] promptTokens = tokenizer.encode(prompt, true, false);
        if (promptTokens.length > steps) throw new IllegalArgumentException("generate: the prompt has " + promptTokens.length + " tokens, more than steps " + steps);
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        int[] out = new int[steps];
        int generated = 0;
        int token = promptTokens[0];
        for (int pos = 0; pos < steps; pos++) {
            float[] logits = model.forward(token, pos);
            int next = pos + 1 < promptTokens.length ? promptTokens[pos + 1] : sampler.sample(logits);
            if (next == tokenizer.bos()) break;
            if (pos + 1 >= promptTokens.length) out[generated++] = next;
            text.writeBytes(Tokenizer.printable(tokenizer.decode(token, next)));
            token = next;
        }
        return new Result(Arrays.copyOf(out, generated), text.toString(StandardCharsets.UTF_8));
    }
}
