package org.qft4j.llama.device;

import java.util.Arrays;
import java.util.List;
import org.qft4j.Device;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.TextTokenizer;

/** {@link Perplexity}'s protocol (same paragraphs, encoding and truncation) evaluated with a {@link DeviceLlama}. */
public final class DevicePerplexity {
    private DevicePerplexity() {}

    /** Text perplexity on a device; see {@link Perplexity#evaluate} for the protocol. */
    public static Perplexity.Result evaluate(LlamaWeights weights, TextTokenizer tokenizer, String text, Device device) {
        List<int[]> encoded = Perplexity.encode(weights, tokenizer, text);
        int longest = 2;
        for (int[] ids : encoded) longest = Math.max(longest, ids.length);
        int predicted = 0;
        double nll = 0;
        try (DeviceLlama model = new DeviceLlama(weights, device, 1, Math.min(longest - 1, weights.config.seqLen()))) {
            for (int[] ids : encoded) {
                Perplexity.Result r = sequence(model, ids);
                predicted += r.predicted();
                nll += r.nllSum();
            }
        }
        return new Perplexity.Result(encoded.size(), predicted, nll);
    }

    /** Teacher-forced NLL of ids[1..] given the prefixes, on a model with capacity for ids.length - 1 positions. */
    public static Perplexity.Result sequence(DeviceLlama model, int[] ids) {
        if (ids.length < 2) return new Perplexity.Result(1, 0, 0);
        int n = ids.length - 1;
        model.forward(Arrays.copyOf(ids, n), Arrays.copyOfRange(ids, 1, ids.length), 1, n);
        return new Perplexity.Result(1, model.predictedCount(), model.lossSum());
    }
}
