package org.qft4j.train;

/** When the optimizer applies the gradients of a step. */
public enum UpdatePolicy {
    /**
     * Keep every INT8 gradient of the step (1 byte per parameter), then check for non-finite values,
     * compute the global norm, clip and apply them all in one pass: exact global clipping, exact skip-step.
     */
    STASH,
    /**
     * Update each tensor as soon as its gradient is complete during backward (LOMO, arXiv 2306.09782):
     * no gradient outlives its layer, so clipping is per tensor and a non-finite gradient can only stop
     * the rest of the step, not undo what was already applied (see {@link FusedPerLayerPolicy}).
     */
    FUSED_PER_LAYER
}
