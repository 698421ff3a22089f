package org.qft4j.train;

/**
 * Receives each tensor's gradient as backward completes it and applies the step according to an
 * {@link UpdatePolicy}. Calls per step: {@link #gradient} once per touched tensor and micro-batch, in
 * backward order, then {@link #finish} once.
 * {@link #begin} starts each step with its learning rate, before the first forward.
 */
public interface GradientPolicy {
    /** Starts a step at learning rate {@code lr} (FUSED_PER_LAYER applies updates during backward). */
    void begin(double lr);

    /** dW: (rows, cols) fp32, complete for this micro-batch; the policy copies what it keeps. */
    void gradient(int param, float[] dW, int rows, int cols);

    /** Ends the step: applies whatever is pending. */
    StepResult finish();

    static GradientPolicy of(TrainConfig c, int parameters, GradientQuantizer q, ParameterOptimizer opt) {
        return switch (c.updatePolicy) {
            case STASH -> new StashPolicy(parameters, q, opt, c.clipMode, c.clipNorm);
            case FUSED_PER_LAYER -> new FusedPerLayerPolicy(q, opt, c.clipMode, c.clipNorm);
        };
    }

    /** min(1, maxNorm / norm): the factor that brings a gradient of L2 norm {@code norm} within maxNorm. */
    static float clipScale(double norm, double maxNorm) {
        return norm > maxNorm ? (float) (maxNorm / norm) : 1f;
    }
}
