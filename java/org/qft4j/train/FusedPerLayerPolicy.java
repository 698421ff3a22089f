package org.qft4j.train;

/**
 * {@link UpdatePolicy#FUSED_PER_LAYER}: each tensor is updated the moment backward completes its gradient,
 * which is then dropped, so at most one gradient exists at a time (LOMO, Lv et al. 2023, arXiv 2306.09782).
 * Clipping can only be per tensor.
 *
 * <p>Partial steps: the tensors updated before a non-finite gradient arrives stay updated (they cannot be
 * undone without keeping their gradients, which is what this policy avoids). The non-finite tensor and every
 * tensor after it in the same step are skipped: a non-finite value usually spreads to all gradients computed
 * after it in backward. The {@link StepResult} counts both, and the next step starts normally.
 */
public final class FusedPerLayerPolicy implements GradientPolicy {
    private final GradientQuantizer quantizer;
    private final ParameterOptimizer optimizer;
    private final ClipMode clip;
    private final double maxNorm;
    private double lr = Double.NaN;
    private boolean poisoned;
    private int updated;
    private int skipped;
    private double maxTensorNorm;
    private long peakBytes;

    public FusedPerLayerPolicy(GradientQuantizer quantizer, ParameterOptimizer optimizer, ClipMode clip, double maxNorm) {
        if (clip == ClipMode.GLOBAL_NORM) throw new IllegalArgumentException("FUSED_PER_LAYER cannot clip by the global norm");
        this.quantizer = quantizer;
        this.optimizer = optimizer;
        this.clip = clip;
        this.maxNorm = maxNorm;
    }

    @Override
    public void begin(double stepLr) {
        lr = stepLr;
    }

    @Override
    public void gradient(int param, float[] dW, int rows, int cols) {
        if (Double.isNaN(lr)) throw new IllegalStateException("FUSED_PER_LAYER: begin(lr) must precede backward");
        if (poisoned) {
            skipped++;
            return;
        }
        Gradient g = quantizer.quantize(param, dW, rows, cols);
        peakBytes = Math.max(peakBytes, g.bytes());
        double norm = Math.sqrt(g.sumSquares());
        if (!Double.isFinite(norm)) {
            poisoned = true;
            skipped++;
            return;
        }
        maxTensorNorm = Math.max(maxTensorNorm, norm);
        optimizer.apply(g, clip == ClipMode.PER_TENSOR_NORM ? GradientPolicy.clipScale(norm, maxNorm) : 1f, lr);
        updated++;
    }

    @Override
    public StepResult finish() {
        StepResult r = new StepResult(updated == 0 && skipped > 0, poisoned ? Double.NaN : maxTensorNorm, updated, skipped, peakBytes);
        poisoned = false;
        updated = 0;
        skipped = 0;
        maxTensorNorm = 0;
        lr = Double.NaN;
        return r;
    }

    /** The largest single gradient held at once: the policy's gradient memory. */
    public long peakBytes() {
        return peakBytes;
    }
}
