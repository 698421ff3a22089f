package org.qft4j.train;

/**
 * What one optimizer step did. {@code gradNorm}: the global L2 norm before clipping (STASH), or the largest
 * per-tensor norm (FUSED_PER_LAYER); NaN when a gradient was not finite.
 */
public record StepResult(boolean skipped, double gradNorm, int tensorsUpdated, int tensorsSkipped, long gradientBytes) {
    /** A step in which some tensors were updated and others were not (FUSED_PER_LAYER after a non-finite gradient). */
    public boolean partial() {
        return tensorsUpdated > 0 && tensorsSkipped > 0;
    }
}
