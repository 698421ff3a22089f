package org.qft4j.train;

/**
 * Hooks a {@link Trainer} calls on the training thread, in order: {@code started}, then {@code step} per
 * optimizer step with {@code evaluated} after each validation pass (also before the first step and after the
 * last) and {@code checkpointSaved} after each complete save (or {@code checkpointFailed}), then {@code finished}
 * (not called when a failed save stops the run). A listener that throws stops the run.
 */
public interface TrainListener {
    default void started(TrainConfig config, long parameters, int trainSequences, int validationSequences) {}

    default void step(StepMetrics m) {}

    default void evaluated(EvalMetrics m) {}

    /** A checkpoint of {@code step} is complete on disk (renamed into place, directory synced). */
    default void checkpointSaved(long step, java.nio.file.Path file) {}

    /**
     * The checkpoint of {@code step} could not be written to {@code file} (nothing of it remains; earlier checkpoints are
     * intact). {@code stopping}: the config's policy is STOP and the run ends after this call.
     */
    default void checkpointFailed(long step, java.nio.file.Path file, org.qft4j.checkpoint.CheckpointException cause, boolean stopping) {}

    default void finished(EvalMetrics before, EvalMetrics after) {}
}
