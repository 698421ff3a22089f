package org.qft4j.train;

import java.nio.file.Path;
import java.util.Locale;
import org.qft4j.checkpoint.Checkpoint;

/**
 * The fresh JVM of the bit-exact resume test: builds the trainer {@link ResumeTest#config} describes, resumes it
 * from a checkpoint file and trains to the end, printing "loss STEP BITS" (the loss's IEEE bits) per step and
 * saving its own final checkpoint into OUT/checkpoints. Usage: ResumeChild CHECKPOINT OUT OPTIMIZER POLICY
 */
public final class ResumeChild {
    public static void main(String[] args) throws Exception {
        TrainConfig c = ResumeTest.config(OptimizerKind.valueOf(args[2]), UpdatePolicy.valueOf(args[3]), Path.of(args[1]));
        try (Trainer t = new Trainer(c, ResumeTest.initial(), TrainerTest.DATA)) {
            t.resume(Checkpoint.load(Path.of(args[0]), t.schema()));
            t.addListener(new TrainListener() {
                @Override
                public void step(StepMetrics m) {
                    System.out.println(String.format(Locale.ROOT, "loss %d %x", m.step(), Double.doubleToRawLongBits(m.loss())));
                }
            });
            t.run();
        }
        System.out.flush();
    }
}
