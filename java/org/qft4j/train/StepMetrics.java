package org.qft4j.train;

/**
 * One optimizer step as listeners see it. loss: mean cross-entropy (nats/token) over the step's scored
 * tokens; tokens: tokens processed since the start; memoryBytes: JVM heap in use plus qft4j native memory.
 */
public record StepMetrics(int step, int steps, double loss, double lr, double gradNorm, boolean skipped, boolean partial,
                          long tokens, double tokensPerSecond, double elapsedSeconds, long memoryBytes) {
    /** Seconds left at the current pace. */
    public double etaSeconds() {
        return step == 0 ? Double.NaN : elapsedSeconds / step * (steps - step);
    }
}
