package org.qft4j.train;

import java.nio.file.Path;

/**
 * The real trainer as the crash test's child JVM: trains the tiny model of {@link ResumeTest} with a checkpoint
 * every SAVE_EVERY steps into DIR (= OUT/checkpoints), resuming from DIR's newest valid checkpoint first. Prints
 * "resumed S" and, after each complete save, "saved S". Usage: TrainerCrashChild DIR SAVE_EVERY
 */
public final class TrainerCrashChild {
    static TrainConfig config(Path checkpointDir, int saveEvery) {
        return ResumeTest.config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, checkpointDir.getParent()).toBuilder()
                .steps(1_000_000).checkpointInterval(saveEvery).keepLast(3).build();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        TrainConfig c = config(dir, Integer.parseInt(args[1]));
        if (!Trainer.checkpointDirectory(c.outputDir).equals(dir)) throw new IllegalArgumentException(dir + " must end in /checkpoints");
        try (Trainer t = new Trainer(c, ResumeTest.initial(), TrainerTest.DATA)) {
            t.resumeLatest(dir);
            System.out.println("resumed " + t.stepsDone());
            System.out.flush();
            t.addListener(new TrainListener() {
                @Override
                public void checkpointSaved(long step, Path file) {
                    System.out.println("saved " + step);
                    System.out.flush();
                }
            });
            t.run();
        }
    }
}
