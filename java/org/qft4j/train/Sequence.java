package org.qft4j.train;

import java.util.Arrays;

/**
 * One training sequence: the model reads {@code inputs} and is scored on predicting {@code targets}
 * position by position; {@code targets[t] == IGNORE} carries no loss (a prompt token, for example).
 * inputs, targets: (T) token ids, 1 <= T <= seqLen.
 */
public record Sequence(int[] inputs, int[] targets) {
    public static final int IGNORE = -1;

    public Sequence {
        if (inputs.length == 0 || inputs.length != targets.length)
            throw new IllegalArgumentException("sequence needs equal non-empty inputs and targets, got " + inputs.length + " and " + targets.length);
    }

    /** Next-token sequence over a window of T+1 tokens: inputs = w[0..T), targets = w[1..T]. */
    public static Sequence window(int[] tokens, int from, int length) {
        return new Sequence(Arrays.copyOfRange(tokens, from, from + length), Arrays.copyOfRange(tokens, from + 1, from + length + 1));
    }

    public int length() {
        return inputs.length;
    }

    /** Positions that carry loss. */
    public int lossTokens() {
        int n = 0;
        for (int t : targets) if (t != IGNORE) n++;
        return n;
    }
}
