package org.qft4j.train;

/** Gradient clipping, by L2 norm. */
public enum ClipMode {
    NONE,
    /** Scale every gradient of the step by min(1, maxNorm / ||g||) with ||g|| over all tensors (STASH only). */
    GLOBAL_NORM,
    /** Scale each tensor's gradient by min(1, maxNorm / ||g_tensor||). */
    PER_TENSOR_NORM
}
