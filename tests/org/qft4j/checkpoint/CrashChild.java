package org.qft4j.checkpoint;

import java.nio.file.Path;
import java.util.Map;

/**
 * The child JVM of the crash test: resumes {@link SyntheticTraining} from the newest valid checkpoint
 * in a directory and trains forever, saving every few steps. It prints "resumed S" and, after each
 * save has returned (file renamed, directory fsynced), "saved S". The parent kills it with SIGKILL.
 * Usage: CrashChild DIR SAVE_EVERY
 */
public final class CrashChild {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int saveEvery = Integer.parseInt(args[1]);
        CheckpointStore store = CheckpointStore.open(dir).keepLast(3);
        SyntheticTraining t = store.latestValid(SyntheticTraining.SCHEMA).map(SyntheticTraining::from).orElseGet(SyntheticTraining::new);
        System.out.println("resumed " + t.step);
        System.out.flush();
        while (true) {
            t.step();
            if (t.step % saveEvery == 0) {
                store.save(t.step, t.tensors(), Map.of("run", "crash-test"));
                System.out.println("saved " + t.step);
                System.out.flush();
            }
        }
    }
}
