package org.qft4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.qft4j.Device;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.tensor.MemoryStats;

/**
 * Trains a LLaMA model as a {@link TrainConfig} says: QFT (INT8 weights, gradients and momentum) or an fp32
 * baseline, in the same engine and loop. Everything it holds is its own (parameters, optimizer state, random
 * streams), so trainers in one JVM do not interfere; it never exits the JVM. Close it to free native memory.
 *
 * <pre>{@code
 * try (Trainer t = new Trainer(config, weights, split)) {
 *     t.addListener(new ProgressBar(System.out));
 *     Trainer.Result r = t.run();
 * }
 * }</pre>
 */
public final class Trainer implements AutoCloseable {
    private final TrainConfig config;
    private final ParameterSet params;
    private final TrainableLlama model;
    private final TrainOptimizer optimizer;
    private final GradientPolicy policy;
    private final TrainingData.Split data;
    private final BatchSampler sampler;
    private final LrSchedule schedule;
    private final List<TrainListener> listeners = new ArrayList<>();
    private int step;

    /** What a run did: validation before the first and after the last step, and the memory it held. */
    public record Result(EvalMetrics before, EvalMetrics after, int skippedSteps, int partialSteps, MemoryReport memory) {}

    /** @param initial the starting weights (read, not modified); data: training and validation sequences */
    public Trainer(TrainConfig config, LlamaWeights initial, TrainingData.Split data) {
        if (!config.device.isCpu())
            throw new IllegalArgumentException("the trainer's LLaMA engine runs on the CPU; device " + config.device + " is not supported yet");
        if (data.train().isEmpty()) throw new IllegalArgumentException("no training sequences");
        this.config = config;
        this.data = data;
        this.params = ParameterSet.of(config);
        try {
            this.model = new TrainableLlama(initial, params, config.batchSize, config.seqLen);
            this.optimizer = TrainOptimizer.of(config, params);
        } catch (RuntimeException e) {
            params.close();
            throw e;
        }
        GradientQuantizer q = new GradientQuantizer(config.optimizer == OptimizerKind.QFT_LION, config.fp32Below, config.rounding, config.seed);
        this.policy = GradientPolicy.of(config, params.tensors().size(), q, optimizer);
        this.sampler = new BatchSampler(data.train(), config.seed);
        this.schedule = LrSchedule.of(config);
    }

    public Trainer addListener(TrainListener l) {
        listeners.add(l);
        return this;
    }

    /** Validation before training, {@code steps} optimizer steps (with validation every evalInterval), validation after. */
    public Result run() {
        MemoryReport memory = memory();
        for (TrainListener l : listeners) l.started(config, params.parameterCount(), data.train().size(), data.validation().size());
        EvalMetrics before = evaluate();
        int skipped = 0, partial = 0;
        long tokens = 0;
        long start = System.nanoTime();
        while (step < config.steps) {
            StepOutcome o = step();
            tokens += o.tokens;
            if (o.result.skipped()) skipped++;
            if (o.result.partial()) partial++;
            double elapsed = (System.nanoTime() - start) / 1e9;
            StepMetrics m = new StepMetrics(step, config.steps, o.loss, o.lr, o.result.gradNorm(), o.result.skipped(),
                    o.result.partial(), tokens, tokens / elapsed, elapsed, usedBytes());
            memory = memory.withGradientPeak(o.result.gradientBytes());
            for (TrainListener l : listeners) l.step(m);
            if (config.evalInterval > 0 && step % config.evalInterval == 0 && step < config.steps) evaluate();
            if (config.checkpointInterval > 0 && step % config.checkpointInterval == 0 && step < config.steps)
                save(config.outputDir.resolve("checkpoint-" + step + ".bin"));
        }
        EvalMetrics after = evaluate();
        for (TrainListener l : listeners) l.finished(before, after);
        return new Result(before, after, skipped, partial, memory);
    }

    private record StepOutcome(double loss, double lr, long tokens, StepResult result) {}

    private StepOutcome step() {
        step++;
        double lr = schedule.at(step);
        optimizer.beginStep(step);
        policy.begin(lr);
        params.route(policy);
        params.gradScale(1f / config.gradAccumulation);
        TrainableLlama.Loss loss = new TrainableLlama.Loss(0, 0);
        long tokens = 0;
        try {
            for (int k = 0; k < config.gradAccumulation; k++) {
                List<Sequence> batch = sampler.next(config.batchSize);
                for (Sequence s : batch) tokens += s.length();
                loss = loss.plus(model.run(batch, true));
            }
        } finally {
            params.route(null);
        }
        return new StepOutcome(loss.mean(), lr, tokens, policy.finish());
    }

    /** Mean validation loss now (over the first evalSequences validation sequences; all when 0). */
    public EvalMetrics evaluate() {
        List<Sequence> val = data.validation();
        if (config.evalSequences > 0 && val.size() > config.evalSequences) val = val.subList(0, config.evalSequences);
        TrainableLlama.Loss loss = new TrainableLlama.Loss(0, 0);
        for (int i = 0; i < val.size(); i += config.batchSize)
            loss = loss.plus(model.run(val.subList(i, Math.min(val.size(), i + config.batchSize)), false));
        EvalMetrics m = new EvalMetrics(step, loss.mean(), loss.count());
        for (TrainListener l : listeners) l.evaluated(m);
        return m;
    }

    /** The model's current weights as an independent fp32 copy (for generation, evaluation, saving). */
    public LlamaWeights weights() {
        return model.weights.toFp32();
    }

    /** Saves the current weights as a llama2.c checkpoint that {@code ModelLoader} reads. */
    public void save(Path file) {
        try {
            ModelFiles.writeLlama2c(model.weights, file);
        } catch (IOException e) {
            throw new UncheckedIOException("saving the model to " + file, e);
        }
    }

    public int stepsDone() {
        return step;
    }

    public TrainConfig config() {
        return config;
    }

    /** Persistent bytes of the training state, by part, measured from what is allocated. */
    public MemoryReport memory() {
        long stackPeak = policy instanceof StashPolicy s ? s.stack().peakBytes() : ((FusedPerLayerPolicy) policy).peakBytes();
        return new MemoryReport(params.parameterCount(), params.weightBytes(), optimizer.stateBytes(), stackPeak);
    }

    private static long usedBytes() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory() + MemoryStats.of(Device.CPU).liveBytes();
    }

    @Override
    public void close() {
        try (ParameterSet p = params) {
            optimizer.close();
        }
    }
}
