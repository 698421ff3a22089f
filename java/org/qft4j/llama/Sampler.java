package org.qft4j.llama;

import java.util.Arrays;

/**
 * Next-token choice as llama2.c's sample(): greedy argmax at temperature 0, otherwise softmax(logits / temperature)
 * sampled whole (topP outside (0, 1)) or from the smallest set of top tokens whose mass exceeds topP (nucleus).
 * The random numbers come from llama2.c's xorshift generator, so a seed reproduces run.c's choices.
 */
public final class Sampler {
    private final float temperature, topP;
    private long state;
    private final float[] probs;
    private final Integer[] order;

    public Sampler(int vocabSize, float temperature, float topP, long seed) {
        if (!(temperature >= 0)) throw new IllegalArgumentException("Sampler: temperature " + temperature + " must be >= 0");
        this.temperature = temperature;
        this.topP = topP;
        this.state = seed;
        this.probs = new float[vocabSize];
        this.order = new Integer[vocabSize];
    }

    public int sample(float[] logits) {
        if (temperature == 0f) return argmax(logits);
        int n = probs.length;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[i] / temperature);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            probs[i] = (float) Math.exp(logits[i] / temperature - max);
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) probs[i] /= sum;
        float coin = randomF32();
        return topP <= 0 || topP >= 1 ? sampleMult(coin) : sampleTopP(coin);
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    private int sampleMult(float coin) {
        float cdf = 0f;
        for (int i = 0; i < probs.length; i++) {
            cdf += probs[i];
            if (coin < cdf) return i;
        }
        return probs.length - 1;
    }

    private int sampleTopP(float coin) {
        // tokens below (1 - topP) / (n - 1) cannot be in the nucleus; dropping them first keeps the sort short
        float cutoff = (1.0f - topP) / (probs.length - 1);
        int n0 = 0;
        for (int i = 0; i < probs.length; i++) if (probs[i] >= cutoff) order[n0++] = i;
        Arrays.sort(order, 0, n0, (a, b) -> Float.compare(probs[b], probs[a]));
        float cumulative = 0f;
        int last = n0 - 1;
        for (int i = 0; i < n0; i++) {
            cumulative += probs[order[i]];
            if (cumulative > topP) {
                last = i;
                break;
            }
        }
        float r = coin * cumulative;
        float cdf = 0f;
        for (int i = 0; i <= last; i++) {
            cdf += probs[order[i]];
            if (r < cdf) return order[i];
        }
        return order[last];
    }

    /** llama2.c random_u32: xorshift64*, top 32 bits. */
    private int randomU32() {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return (int) ((state * 0x2545F4914F6CDD1DL) >>> 32);
    }

    private float randomF32() {
        return (randomU32() >>> 8) / 16777216.0f;
    }
}
