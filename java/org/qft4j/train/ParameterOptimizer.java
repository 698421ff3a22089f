package org.qft4j.train;

/**
 * The optimizer as the update policies drive it: one call per parameter tensor and step. The gradient to
 * apply is {@code gradScale * g} (gradScale in (0, 1] carries clipping). Parameters get no call in a step
 * whose forward did not touch them: their weights and optimizer state stay as they are.
 */
public interface ParameterOptimizer {
    void apply(Gradient g, float gradScale, double lr);
}
