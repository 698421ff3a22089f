package org.qft4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.qft4j.Device;
import org.qft4j.checkpoint.Checkpoint;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.CheckpointSchema;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.checkpoint.Provenance;
import org.qft4j.llama.Int8HybridFormat;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.hf.HfLlama;
import org.qft4j.peqa.PeqaModel;
import org.qft4j.tensor.MemoryStats;

/**
 * Trains a LLaMA model as a {@link TrainConfig} says: QFT (INT8 weights, gradients and momentum), PEQA (scales of
 * b-bit weights) or an fp32 baseline, in the same engine and loop. Everything it holds is its own (parameters, optimizer state, random
 * streams), so trainers in one JVM do not interfere; it never exits the JVM. Close it to free native memory.
 *
 * <pre>{@code
 * try (Trainer t = new Trainer(config, weights, split)) {
 *     t.addListener(new ProgressBar(System.out));
 *     Trainer.Result r = t.run();
 * }
 * }</pre>
 *
 * <p>Checkpoints ({@link #saveCheckpoint}, {@link #resume}; automatic every {@code checkpointInterval} steps into
 * {@code outputDir/checkpoints}) hold everything the next step depends on: weights as stored, optimizer state,
 * the step (which also keys the schedule and both stochastic rounding streams) and the loader's position, so a
 * resumed run continues bit-exactly as if it had never stopped.
 */
public final class Trainer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Trainer.class.getName());
    private final TrainConfig config;
    private final ParameterSet params;
    private final TrainableLlama model;
    private final TrainOptimizer optimizer;
    private final GradientPolicy policy;
    private final TrainingData.Split data;
    private final BatchSampler sampler;
    private final LrSchedule schedule;
    private final GradientQuantizer quantizer;
    private CheckpointSchema schema;
    private final List<TrainListener> listeners = new ArrayList<>();
    private CheckpointStore store; // where run() saves; null: outputDir/checkpoints, opened by run()
    private boolean closed;
    private int step;
    private String dataSha256;

    /** Metadata keys of a checkpoint besides {@link Provenance}'s. */
    public static final String CONFIG_KEY = "train.config", LOADER_EPOCH_KEY = "loader.epoch", LOADER_INDEX_KEY = "loader.index",
            LOADER_SEED_KEY = "loader.seed", TRAIN_SEQUENCES_KEY = "loader.train_sequences";

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
        GradientQuantizer q = this.quantizer = new GradientQuantizer(config.optimizer == OptimizerKind.QFT_LION, config.fp32Below, config.rounding, config.seed);
        this.policy = GradientPolicy.of(config, params.tensors().size(), q, optimizer);
        this.sampler = new BatchSampler(data.train(), config.seed);
        this.schedule = LrSchedule.of(config);
    }

    public Trainer addListener(TrainListener l) {
        listeners.add(l);
        return this;
    }

    /**
     * Makes {@link #run} save its checkpoints (every {@code checkpointInterval} steps) into {@code store} instead of
     * {@code outputDir/checkpoints}. The config's {@code onSaveFailure} decides what a failed save does, whatever the
     * store's own policy.
     */
    public Trainer checkpointStore(CheckpointStore store) {
        this.store = store;
        return this;
    }

    /**
     * Validation before training, {@code steps} optimizer steps (with validation every evalInterval), validation after.
     *
     * @throws CheckpointSaveException when a checkpoint save fails under {@link CheckpointStore.OnSaveFailure#STOP}:
     *         the trainer is closed then, and the earlier checkpoints are intact
     */
    public Result run() {
        if (closed) throw new IllegalStateException("the trainer is closed");
        MemoryReport memory = memory();
        CheckpointStore store = config.checkpointInterval <= 0 ? null
                : this.store != null ? this.store : openStore(checkpointDirectory(config.outputDir));
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
            if (store != null && (step % config.checkpointInterval == 0 || step == config.steps)) saveDuringRun(store);
        }
        EvalMetrics after = evaluate();
        for (TrainListener l : listeners) l.finished(before, after);
        return new Result(before, after, skipped, partial, memory);
    }

    record StepOutcome(double loss, double lr, long tokens, StepResult result) {}

    /** One optimizer step outside {@link #run} (no listeners, no checkpoints): for tests that watch each step. */
    StepOutcome step() {
        step++;
        double lr = schedule.at(step);
        quantizer.beginStep(step);
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

    /** Exports the model as a Hugging Face LLaMA directory (config.json + model.safetensors) in "F32" or "BF16". */
    public void exportHf(Path dir, String dtype) throws IOException {
        HfLlama.write(model.weights, dir, dtype);
    }

    /**
     * Exports the model as an INT8 hybrid inference checkpoint that {@code ModelLoader} (and so {@code eval} and
     * {@code generate}) opens: QFT matrices exactly as trained, fp32-trained matrices quantized with the same quantizer.
     */
    public void exportInt8(Path file) throws IOException {
        Int8HybridFormat.write(model.weights, config.outlierFraction, m -> m instanceof QftMatrix q
                ? Int8HybridFormat.Hybrid.of(q.hybrid()) : Int8HybridFormat.Hybrid.quantize(m, config.outlierFraction), file);
    }

    /**
     * Exports a PEQA run's tuned model, still b-bit ({@link PeqaModel#export}: packed codes, zero-points and the trained
     * scales, fp32 embedding and norms), which {@code ModelLoader} (and so {@code eval} and {@code generate}) opens directly.
     */
    public void exportPeqa(Path file) throws IOException {
        if (!params.isPeqa()) throw new IllegalStateException("exportPeqa: this run trains " + config.optimizer + ", not PEQA");
        PeqaModel.export(model.weights.mapMatrices((name, m) -> m instanceof PeqaTensor p ? p.matrix() : m), file);
    }

    /** Where {@link #run} keeps checkpoints for a run whose output directory is {@code outputDir}. */
    public static Path checkpointDirectory(Path outputDir) {
        return outputDir.resolve("checkpoints");
    }

    private CheckpointStore openStore(Path dir) {
        try {
            return CheckpointStore.open(dir).keepLast(config.keepLast).onSaveFailure(CheckpointStore.OnSaveFailure.CONTINUE);
        } catch (CheckpointException e) {
            throw new UncheckedIOException(new IOException(e.getMessage(), e));
        }
    }

    /**
     * A failed save (the store removed its partial file) goes to the listeners; then, as the config says, training
     * goes on and the next interval tries again (CONTINUE: the store has logged a warning), or the trainer closes
     * and the run ends with the error (STOP).
     */
    private void saveDuringRun(CheckpointStore store) {
        CheckpointException failure;
        try {
            CheckpointStore.SaveResult r = saveCheckpoint(store);
            if (r.saved()) {
                for (TrainListener l : listeners) l.checkpointSaved(r.step(), r.file());
                return;
            }
            failure = r.failure();
        } catch (CheckpointException e) { // a caller's store with policy STOP: it has not logged the failure
            failure = e;
            if (config.onSaveFailure == CheckpointStore.OnSaveFailure.CONTINUE)
                LOG.log(System.Logger.Level.WARNING, e.getMessage() + "; training continues");
        }
        boolean stop = config.onSaveFailure == CheckpointStore.OnSaveFailure.STOP;
        for (TrainListener l : listeners) l.checkpointFailed(step, store.fileFor(step), failure, stop);
        if (stop) {
            close();
            throw new CheckpointSaveException(step, store.fileFor(step), failure);
        }
    }

    /** The tensors a checkpoint of this model and config must hold, with their dtypes and shapes, and nothing else. */
    public CheckpointSchema schema() {
        if (schema == null) schema = TrainState.schema(TrainState.tensors(params, optimizer));
        return schema;
    }

    /**
     * Saves the complete training state after the current step atomically into {@code store}: a failed save leaves
     * earlier checkpoints intact and, under {@link CheckpointStore.OnSaveFailure#CONTINUE}, training going.
     */
    public CheckpointStore.SaveResult saveCheckpoint(CheckpointStore store) throws CheckpointException {
        Map<String, String> meta = new LinkedHashMap<>(Provenance.of(config.toString(), dataSha256(), config.seed));
        meta.put(CONFIG_KEY, config.toString());
        meta.put(LOADER_EPOCH_KEY, Integer.toString(sampler.epoch()));
        meta.put(LOADER_INDEX_KEY, Integer.toString(sampler.index()));
        meta.put(LOADER_SEED_KEY, Long.toString(sampler.seed()));
        meta.put(TRAIN_SEQUENCES_KEY, Integer.toString(data.train().size()));
        return store.save(step, TrainState.tensors(params, optimizer), meta);
    }

    /**
     * Continues from a checkpoint: weights, optimizer state, step, schedule position, rounding streams and loader
     * position become the checkpoint's. Load it with {@link #schema()} (as {@link #resumeLatest} does) so that a
     * checkpoint of another model fails before anything is changed.
     *
     * @throws CheckpointException when it was saved with another config or other training data (nothing is changed
     *         then), or when its outlier index arrays are inconsistent although the file passed its checksum (a
     *         hand-made file): then the state is partly overwritten and the trainer must be closed
     */
    public Trainer resume(Checkpoint c) throws CheckpointException {
        Map<String, String> m = c.metadata();
        String saved = m.get(CONFIG_KEY);
        if (!config.toString().equals(saved))
            throw new CheckpointException(c.file(), "it was trained with config [" + saved + "] but this run has [" + config
                    + "]: resume with the options it was trained with, or start a new run in another output directory");
        if (!String.valueOf(data.train().size()).equals(m.get(TRAIN_SEQUENCES_KEY)) || !dataSha256().equals(m.get(Provenance.DATA_SHA256)))
            throw new CheckpointException(c.file(), "it was trained on other data (" + m.get(TRAIN_SEQUENCES_KEY) + " training sequences, data hash "
                    + m.get(Provenance.DATA_SHA256) + "; now " + data.train().size() + ", " + dataSha256() + "): resume with the same --data");
        int epoch, index;
        try {
            epoch = Integer.parseInt(m.get(LOADER_EPOCH_KEY));
            index = Integer.parseInt(m.get(LOADER_INDEX_KEY));
            if (Long.parseLong(m.get(LOADER_SEED_KEY)) != config.seed) throw new NumberFormatException("loader seed differs from the config's");
        } catch (NumberFormatException e) {
            throw new CheckpointException(c.file(), "the loader position in its metadata is missing or corrupt (" + e.getMessage() + ")");
        }
        if (c.step() > config.steps)
            throw new CheckpointException(c.file(), "it is at step " + c.step() + ", beyond this run's " + config.steps + " steps");
        try {
            sampler.seek(epoch, index);
            TrainState.restore(c.tensors(), params, optimizer);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(c.file(), "cannot restore it: " + e.getMessage()
                    + "; this trainer's state is now partly overwritten: close it and resume another checkpoint");
        }
        step = Math.toIntExact(c.step());
        return this;
    }

    /**
     * Resumes from the newest complete checkpoint in {@code dir} that fits this model and config; older or
     * corrupt ones are skipped (each reported to the log). Empty, changing nothing, when there is none.
     */
    public Optional<Checkpoint> resumeLatest(Path dir) throws CheckpointException {
        CheckpointStore store = CheckpointStore.open(dir);
        Optional<Checkpoint> c = store.latestValid(schema());
        if (c.isPresent()) resume(c.get());
        return c;
    }

    /** SHA-256 over the training sequences' inputs and targets, in order: what identifies the data of a run. */
    private String dataSha256() {
        if (dataSha256 == null) {
            MessageDigest d;
            try {
                d = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every Java runtime provides SHA-256", e);
            }
            for (Sequence s : data.train()) {
                ByteBuffer b = ByteBuffer.allocate(4 + 8 * s.length()).putInt(s.length());
                for (int i = 0; i < s.length(); i++) b.putInt(s.inputs()[i]).putInt(s.targets()[i]);
                d.update(b.flip());
            }
            dataSha256 = HexFormat.of().formatHex(d.digest());
        }
        return dataSha256;
    }

    public int stepsDone() {
        return step;
    }

    public TrainConfig config() {
        return config;
    }

    /** The trained tensors (tests inspect them). */
    ParameterSet parameters() {
        return params;
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

    /** Frees the native training state; idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try (ParameterSet p = params) {
            optimizer.close();
        }
    }
}
