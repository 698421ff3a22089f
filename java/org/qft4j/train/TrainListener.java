package org.qft4j.train;

/**
 * Hooks a {@link Trainer} calls on the training thread, in order: {@code started}, then {@code step} per
 * optimizer step with {@code evaluated} after each validation pass (also before the first step and after the
 * last) and {@code checkpointSaved} after each complete save, then {@code finished}. A listener that throws stops the run.
 */
public interface TrainListener {
    default void started(TrainConfig config, long parameters, int trainSequences, int validationSequences) {}

    default void step(StepMetrics m) {}

    default void evaluated(EvalMetrics m) {}

    /** A checkpoint of {@code step} is complete on disk (renamed into place, directory synced). */
    default void checkpointSaved(long step, java.nio.file.Path file) {}

    default void finished(EvalMetrics before, EvalMetrics after) {}
}
