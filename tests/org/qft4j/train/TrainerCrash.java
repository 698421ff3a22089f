package org.qft4j.train;

import java.nio.file.Path;
import java.util.List;
import org.qft4j.checkpoint.Checkpoint;
import org.qft4j.checkpoint.CheckpointSchema;
import org.qft4j.checkpoint.CrashHarness;

/**
 * The crash harness's subject for the real trainer ({@link TrainerCrashChild}): every checkpoint after a kill must
 * pass the trainer's schema (all weights, outliers, momentum of the config's shapes, finite, checksummed) and resume
 * into a fresh trainer of the same config (config, data and loader position in its metadata). Owns a trainer: close it.
 */
final class TrainerCrash implements CrashHarness.Subject, AutoCloseable {
    private final int saveEvery;
    private final Path dir;
    private final Trainer probe;

    TrainerCrash(Path checkpointDir, int saveEvery) {
        this.dir = checkpointDir;
        this.saveEvery = saveEvery;
        this.probe = new Trainer(TrainerCrashChild.config(checkpointDir, saveEvery), ResumeTest.initial(), TrainerTest.DATA);
    }

    @Override public Class<?> child() { return TrainerCrashChild.class; }
    @Override public List<String> args() { return List.of(Integer.toString(saveEvery)); }
    @Override public CheckpointSchema schema() { return probe.schema(); }

    @Override
    public void verify(int kill, Checkpoint latest) throws Exception {
        if (latest == null) return;
        probe.resume(latest);
        if (probe.stepsDone() != latest.step()) throw new AssertionError("kill " + kill + ": resumed at " + probe.stepsDone() + ", not " + latest.step());
    }

    /** Usage: TrainerCrash [KILLS] [SEED]: the long version, in a fresh temporary directory. */
    public static void main(String[] args) throws Exception {
        int kills = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        Path out = java.nio.file.Files.createTempDirectory("qft4j-trainer-crash-");
        System.out.println("trainer crash test: " + kills + " kills, seed " + seed + ", directory " + out);
        long t0 = System.nanoTime();
        try (TrainerCrash subject = new TrainerCrash(Trainer.checkpointDirectory(out), 1)) {
            CrashHarness.Result r = CrashHarness.run(Trainer.checkpointDirectory(out), kills, seed, subject, System.out);
            System.out.printf("%s (%.1f s)%n", r, (System.nanoTime() - t0) / 1e9);
        }
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.walk(out)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) java.nio.file.Files.delete(p);
        }
    }

    @Override
    public void close() {
        probe.close();
    }
}
