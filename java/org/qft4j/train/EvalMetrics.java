package org.qft4j.train;

/** A validation pass after {@code step} optimizer steps (0: before training): mean loss in nats/token over {@code tokens} scored tokens. */
public record EvalMetrics(int step, double loss, long tokens) {
    public double perplexity() {
        return Math.exp(loss);
    }
}
