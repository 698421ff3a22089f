package org.qft4j.train;

/**
 * Linear warmup from lr/warmup to lr over the first {@code warmup} steps, then cosine decay to
 * {@code minFraction * lr} at the last step (Loshchilov and Hutter, SGDR, arXiv 1608.03983). Steps are 1-based.
 */
public final class LrSchedule {
    private final double lr;
    private final int warmup;
    private final int steps;
    private final double minLr;

    public LrSchedule(double lr, int warmup, int steps, double minFraction) {
        if (steps < 1 || warmup < 0 || warmup > steps)
            throw new IllegalArgumentException("schedule needs 0 <= warmup (" + warmup + ") <= steps (" + steps + "), steps >= 1");
        this.lr = lr;
        this.warmup = warmup;
        this.steps = steps;
        this.minLr = minFraction * lr;
    }

    public static LrSchedule of(TrainConfig c) {
        return new LrSchedule(c.learningRate, c.warmupSteps, c.steps, c.minLrFraction);
    }

    /** The learning rate of step {@code step} in [1, steps]. */
    public double at(int step) {
        if (step < 1 || step > steps) throw new IllegalArgumentException("step " + step + " outside [1, " + steps + "]");
        if (step <= warmup) return lr * step / warmup;
        int decaySteps = steps - warmup;
        if (decaySteps <= 1) return lr;
        double progress = (double) (step - warmup - 1) / (decaySteps - 1);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
}
