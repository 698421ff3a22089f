package org.qft4j.llama;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Text perplexity with the protocol of the project's reference numbers (shared/reference/stories260K.json): split on
 * blank lines; inside a paragraph newlines become one space, repeated spaces collapse, ends are trimmed; empty
 * paragraphs are skipped; each paragraph is encoded on its own with BOS, truncated to 512 tokens (and to the model's
 * seq_len), and contributes -log p of tokens 1..n-1; perplexity = exp(total NLL / total predictions).
 */
public final class Perplexity {
    public static final int MAX_TOKENS = 512;

    private Perplexity() {}

    public record Result(int paragraphs, int predicted, double nllSum) {
        public double meanNll() { return nllSum / predicted; }

        public double perplexity() { return Math.exp(meanNll()); }
    }

    public static List<String> paragraphs(String text) {
        List<String> out = new ArrayList<>();
        for (String p : text.replace("\r\n", "\n").split("\n[ \t]*\n")) {
            String s = p.replace('\n', ' ').replaceAll(" {2,}", " ").trim();
            if (!s.isEmpty()) out.add(s);
        }
        return out;
    }

    /** The protocol's sequences: each paragraph with BOS, cut to MAX_TOKENS and to the model's seq_len. */
    public static List<int[]> encode(LlamaWeights weights, TextTokenizer tokenizer, String text) {
        List<int[]> encoded = new ArrayList<>();
        for (String p : paragraphs(text)) {
            int[] ids = tokenizer.encode(p, true, false);
            encoded.add(Arrays.copyOf(ids, Math.min(ids.length, Math.min(MAX_TOKENS, weights.config.seqLen()))));
        }
        return encoded;
    }

    public static Result evaluate(LlamaWeights weights, TextTokenizer tokenizer, String text) {
        List<int[]> encoded = encode(weights, tokenizer, text);
        int longest = 1;
        for (int[] ids : encoded) longest = Math.max(longest, ids.length);
        LlamaModel model = new LlamaModel(weights, 1, longest, false);
        int predicted = 0;
        double nll = 0;
        for (int[] ids : encoded) {
            Result r = sequence(model, ids);
            predicted += r.predicted();
            nll += r.nllSum();
        }
        return new Result(encoded.size(), predicted, nll);
    }

    /** Teacher-forced NLL of ids[1..] given the prefixes, on a model with capacity for ids.length tokens. */
    public static Result sequence(LlamaModel model, int[] ids) {
        if (ids.length < 2) return new Result(1, 0, 0);
        int n = ids.length - 1;
        int[] targets = Arrays.copyOfRange(ids, 1, ids.length);
        model.forward(ids, targets, 1, n);
        return new Result(1, model.predictedCount(), model.lossSum());
    }
}
