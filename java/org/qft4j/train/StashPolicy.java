package org.qft4j.train;

/**
 * {@link UpdatePolicy#STASH}: every gradient of the step waits on a {@link GradientStack} (INT8: 1 byte per
 * element). At the end of the step a first pass checks them all for non-finite values and sums their squares;
 * a non-finite step is skipped whole (no weight or optimizer state changes); otherwise the second pass pops
 * each gradient and applies it with the exact global clip factor.
 */
public final class StashPolicy implements GradientPolicy {
    private final GradientStack stack;
    private final GradientQuantizer quantizer;
    private final ParameterOptimizer optimizer;
    private final ClipMode clip;
    private final double maxNorm;
    private double lr = Double.NaN;

    public StashPolicy(int parameters, GradientQuantizer quantizer, ParameterOptimizer optimizer, ClipMode clip, double maxNorm) {
        this.stack = new GradientStack(parameters);
        this.quantizer = quantizer;
        this.optimizer = optimizer;
        this.clip = clip;
        this.maxNorm = maxNorm;
    }

    @Override
    public void begin(double stepLr) {
        if (!stack.isEmpty()) throw new IllegalStateException("STASH: the previous step was not finished");
        lr = stepLr;
    }

    @Override
    public void gradient(int param, float[] dW, int rows, int cols) {
        Gradient pending = stack.find(param);
        if (pending != null) quantizer.accumulate(pending, dW);
        else stack.push(quantizer.quantize(param, dW, rows, cols));
    }

    @Override
    public StepResult finish() {
        if (Double.isNaN(lr)) throw new IllegalStateException("STASH: finish() without begin(lr)");
        int n = stack.size();
        long bytes = stack.bytes();
        double sumSquares = 0;
        for (int i = 0; i < n; i++) sumSquares += stack.get(i).sumSquares();
        double norm = Math.sqrt(sumSquares);
        if (!Double.isFinite(norm)) {
            stack.clear();
            lr = Double.NaN;
            return new StepResult(true, Double.NaN, 0, n, bytes);
        }
        float global = clip == ClipMode.GLOBAL_NORM ? GradientPolicy.clipScale(norm, maxNorm) : 1f;
        while (!stack.isEmpty()) {
            Gradient g = stack.pop();
            float scale = clip == ClipMode.PER_TENSOR_NORM ? GradientPolicy.clipScale(Math.sqrt(g.sumSquares()), maxNorm) : global;
            optimizer.apply(g, scale, lr);
        }
        lr = Double.NaN;
        return new StepResult(false, norm, n, 0, bytes);
    }

    /** The stack, for memory accounting: its peak is the policy's gradient memory. */
    public GradientStack stack() {
        return stack;
    }
}
