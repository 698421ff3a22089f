package org.qft4j.checkpoint;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The crash test: runs a child JVM ({@link CrashChild} on a synthetic state, or the real trainer's child), kills it with SIGKILL at a random moment,
 * and checks that the newest valid checkpoint is at least the last save the child reported complete
 * and holds exactly the state the deterministic rule gives for its step; then resumes the child from
 * it, again and again. Run as a program for the long version: {@code bench/crash-test.sh [KILLS]}.
 */
public final class CrashHarness {
    /**
     * What is killed and how its checkpoints are judged. The child's main takes the checkpoint directory as its
     * first argument, prints "resumed S" once it has resumed and "saved S" after each complete save.
     */
    public interface Subject {
        Class<?> child();

        /** Arguments after the checkpoint directory. */
        List<String> args();

        /** The schema every checkpoint must pass; a checkpoint that fails it after a kill fails the test. */
        CheckpointSchema schema();

        /** Checks the newest valid checkpoint after kill number {@code kill} (null when none was saved yet). */
        void verify(int kill, Checkpoint latest) throws Exception;
    }

    /** What a run saw. */
    public static final class Result {
        public int kills;
        public int killsDuringStartup;    // killed before it could train: while opening and validating checkpoints
        public int killsDuringSave;       // a temporary file was present after the kill: the child died mid-save
        public long saves;                // "saved" lines seen in total
        public long finalStep;

        @Override
        public String toString() {
            return kills + " kills (" + killsDuringSave + " during a save, " + killsDuringStartup + " during startup), " + saves + " completed saves, final step " + finalStep
                    + "; after every kill the newest valid checkpoint was >= the last reported"
                    + " save and passed the subject's check (synthetic: bit-identical to the replayed state; trainer: resumes)";
        }
    }

    private CrashHarness() {}

    /** The synthetic subject: each checkpoint must equal the deterministic rule replayed to its step, bit for bit. */
    static Result run(Path dir, int kills, long seed, int saveEvery, PrintStream log) throws Exception {
        SyntheticTraining replay = new SyntheticTraining();
        return run(dir, kills, seed, new Subject() {
            @Override public Class<?> child() { return CrashChild.class; }
            @Override public List<String> args() { return List.of(Integer.toString(saveEvery)); }
            @Override public CheckpointSchema schema() { return SyntheticTraining.SCHEMA; }

            @Override
            public void verify(int kill, Checkpoint latest) {
                if (latest == null) return;
                while (replay.step < latest.step()) replay.step();
                if (!SyntheticTraining.from(latest).sameStateAs(replay))
                    throw new AssertionError("kill " + kill + ": checkpoint of step " + latest.step() + " differs from the replayed state");
            }
        }, log);
    }

    public static Result run(Path dir, int kills, long seed, Subject subject, PrintStream log) throws Exception {
        Random random = new Random(seed);
        Result r = new Result();
        long previous = 0;
        Path stderr = dir.resolveSibling(dir.getFileName() + ".stderr");
        for (int k = 0; k < kills; k++) {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    subject.child().getName(), dir.toString()));
            cmd.addAll(subject.args());
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.redirectError(stderr.toFile());
            Process child = pb.start();
            AtomicLong lastSaved = new AtomicLong(-1);
            AtomicLong resumedAt = new AtomicLong(-1);
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("saved ")) {
                            lastSaved.set(Long.parseLong(line.substring(6)));
                            synchronized (r) { r.saves++; }
                        } else if (line.startsWith("resumed ")) {
                            synchronized (resumedAt) {
                                resumedAt.set(Long.parseLong(line.substring(8)));
                                resumedAt.notifyAll();
                            }
                        }
                    }
                } catch (IOException e) {
                    // the pipe closes when the child is killed
                }
            });
            reader.start();
            // Most kills land while training and saving (a random moment after the resume); one in eight
            // lands during startup, while the child is opening and validating the checkpoints.
            boolean duringStartup = random.nextInt(8) == 0;
            long delay = duringStartup ? random.nextInt(400) : random.nextInt(800);
            if (!duringStartup) {
                synchronized (resumedAt) {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (resumedAt.get() < 0 && child.isAlive() && System.nanoTime() < deadline) resumedAt.wait(100);
                }
            }
            boolean noSaveYet;
            synchronized (r) { noSaveYet = r.saves == 0; }
            if (noSaveYet && k == kills - 1) {
                // On a loaded machine a save can take longer than every random delay: let the last child complete one,
                // so that the run always checks a resume from a real checkpoint.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (lastSaved.get() < 0 && child.isAlive() && System.nanoTime() < deadline) Thread.sleep(10);
            }
            if (child.waitFor(delay, TimeUnit.MILLISECONDS))
                throw new AssertionError("child exited by itself with status " + child.exitValue() + ": " + Files.readString(stderr));
            child.destroyForcibly();
            child.waitFor();
            reader.join();
            r.kills++;
            if (duringStartup) r.killsDuringStartup++;
            boolean midSave = hasTempFile(dir);
            if (midSave) r.killsDuringSave++;

            long reported = Math.max(lastSaved.get(), resumedAt.get());
            Optional<Checkpoint> latest = CheckpointStore.open(dir).latestValid(subject.schema(),
                    e -> { throw new AssertionError("a checkpoint is invalid after a kill: " + e.getMessage(), e); });
            long step = latest.map(Checkpoint::step).orElse(0L);
            if (step < reported)
                throw new AssertionError("kill " + k + ": newest valid checkpoint is step " + step + " but the child reported step "
                        + reported + " saved");
            if (step < previous) throw new AssertionError("kill " + k + ": checkpoint step went back from " + previous + " to " + step);
            subject.verify(k, latest.orElse(null));
            previous = step;
            r.finalStep = step;
            if (log != null)
                log.printf("kill %d %d ms after %s: last reported save %d, newest valid checkpoint %d%s%n", k + 1, delay,
                        duringStartup ? "start" : "resume", reported, step,
                        midSave ? " (killed mid-save)" : "");
        }
        return r;
    }

    private static boolean hasTempFile(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp"));
        }
    }

    /** Usage: CrashHarness [KILLS] [SEED]. Works in a fresh temporary directory and prints one line per kill. */
    public static void main(String[] args) throws Exception {
        int kills = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        Path dir = Files.createTempDirectory("qft4j-crash-");
        System.out.println("crash test: " + kills + " kills, seed " + seed + ", directory " + dir);
        long t0 = System.nanoTime();
        Result r = run(dir.resolve("ckpt"), kills, seed, 2, System.out);
        System.out.printf("%s (%.1f s)%n", r, (System.nanoTime() - t0) / 1e9);
        List<Path> left = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(left::add);
        }
        for (Path p : left) Files.delete(p);
    }
}
