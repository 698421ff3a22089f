package org.qft4j.train;

/**
 * Hooks a {@link Trainer} calls on the training thread, in order: {@code started}, then {@code step} per
 * optimizer step with {@code evaluated} after each validation pass (also before the first step and after the
 * last), then {@code finished}. A listener that throws stops the run.
 */
public interface TrainListener {
    default void started(TrainConfig config, long parameters, int trainSequences, int validationSequences) {}

    default void step(StepMetrics m) {}

    default void evaluated(EvalMetrics m) {}

    default void finished(EvalMetrics before, EvalMetrics after) {}
}
