package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.tensor.LeakCheck;

/** Many steps leave native memory flat; trainers in parallel threads compute exactly what they compute alone. */
class TrainerIsolationTest {
    /** 500 steps after 5 warm-up steps (the class took 11-23 s on the 2-core CI machine); -Dqft4j.leakSteps=10000 for the long run. */
    static final int LEAK_STEPS = Integer.getInteger("qft4j.leakSteps", 500);

    @Test
    void outstandingNativeBytesStayFlatOverManyQftSteps() {
        TrainConfig c = ResumeTest.config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, java.nio.file.Path.of("unused")).toBuilder()
                .checkpointInterval(0).outputDir(null).steps(LEAK_STEPS + 5).outlierReselectInterval(50).build();
        try (Trainer t = new Trainer(c, ResumeTest.initial(), TrainerTest.DATA)) {
            LeakCheck.Report r = LeakCheck.assertFlat(Device.CPU, 5, LEAK_STEPS, i -> t.step());
            System.out.println("trainer leak check: " + r);
            assertEquals(LEAK_STEPS + 5, t.stepsDone());
        }
    }

    private static List<Long> losses(TrainConfig c) {
        List<Long> out = new ArrayList<>();
        try (Trainer t = new Trainer(c, ResumeTest.initial(), TrainerTest.DATA)) {
            while (t.stepsDone() < c.steps) out.add(Double.doubleToRawLongBits(t.step().loss()));
        }
        return out;
    }

    private static void assertParallelEqualsAlone(int threads) throws Exception {
        TrainConfig c = ResumeTest.config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, java.nio.file.Path.of("unused")).toBuilder()
                .checkpointInterval(0).outputDir(null).steps(6).build();
        List<Long> alone = losses(c);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<Long>>> runs = new ArrayList<>();
            for (int i = 0; i < threads; i++) runs.add(pool.submit(() -> losses(c)));
            for (int i = 0; i < threads; i++) assertEquals(alone, runs.get(i).get(), "trainer " + i + " of " + threads + " in parallel");
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void twoTrainersInParallelThreadsMatchTheRunAlone() throws Exception {
        assertParallelEqualsAlone(2);
    }

    @Test
    void eightTrainersInParallelThreadsMatchTheRunAlone() throws Exception {
        assertParallelEqualsAlone(8);
    }
}
