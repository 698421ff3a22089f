package org.qft4j.train;

import org.qft4j.qft.Rounding;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.qft4j.Device;
import org.qft4j.checkpoint.CheckpointStore;

/**
 * Everything that defines one training run, immutable and validated: build it with {@link #builder()}.
 * Steps count optimizer updates; one step consumes {@code batchSize * gradAccumulation} sequences of at most
 * {@code seqLen} tokens. Unset betas take the optimizer's usual values (Lion 0.9/0.99, AdamW 0.9/0.999).
 */
public final class TrainConfig {
    /** {@link #groupSize} meaning one scale per output channel (row). */
    public static final int PER_CHANNEL = 0;

    /** Where the model comes from; null selects the embedded default (a tiny model the project trains itself). */
    public final Path model;
    /** The model's llama2.c tokenizer.bin; null: tokenizer.bin or tok*.bin next to the model. */
    public final Path tokenizer;
    /** Training text: files, folders of .txt files, or .jsonl files of {"prompt","response"}; empty with model == null. */
    public final List<Path> trainData;
    /** Held-out data; empty: split {@link #validationFraction} of the training sequences off instead. */
    public final List<Path> validationData;
    public final double validationFraction;

    public final OptimizerKind optimizer;
    public final double learningRate;
    public final double beta1;
    public final double beta2;
    public final double weightDecay;
    /** AdamW's denominator epsilon. */
    public final double adamEpsilon;

    /** Total optimizer steps; the cosine schedule reaches {@code minLrFraction * learningRate} at the last one. */
    public final int steps;
    public final int warmupSteps;
    public final double minLrFraction;

    public final int batchSize;
    public final int gradAccumulation;
    public final int seqLen;

    /** Fraction of each weight matrix's entries kept exactly (fp32) as outliers by QFT's hybrid quantizer (default 1%, as in QFT). */
    public final double outlierFraction;
    /** Steps between re-selections of the outliers (the largest-magnitude entries move as training proceeds). */
    public final int outlierReselectInterval;
    /**
     * INT8 rounding of QFT's updated weights. Default STOCHASTIC_WEYL: on the Austen fine-tune
     * (bench/results/austen-quality.md, 5 seeds) QFT ends 0.5% behind fp32 Lion with it, 1.1% with STOCHASTIC,
     * at no memory cost.
     */
    public final Rounding rounding;
    /** Tensors with fewer elements than this (norm weights) keep fp32 weights and gradients. */
    public final int fp32Below;
    /** PEQA only: bits per weight code, 3 or 4. */
    public final int bits;
    /** PEQA only: columns per scale and zero-point group; {@link #PER_CHANNEL} (0): one group per output row. */
    public final int groupSize;
    /**
     * What trains; the rest stays as it starts. Default {@link ModelPart#defaults}: everything, and for PEQA the block
     * matrices' scales only (the paper's recipe). PEQA with {@link ModelPart#EMBEDDING} RTN-quantizes the token
     * embedding / classifier too and trains its scales (still "all linear layers b-bit, only scales train"); with
     * {@link ModelPart#NORMS} the RMSNorm weights train in fp32. PEQA always trains {@link ModelPart#BLOCKS}.
     */
    public final Set<ModelPart> trainedParts;

    public final ClipMode clipMode;
    public final double clipNorm;
    public final UpdatePolicy updatePolicy;

    /** Steps between validation passes (0: only before and after training). */
    public final int evalInterval;
    /** Validation sequences per evaluation (0: all of them). */
    public final int evalSequences;
    /** Steps between checkpoints into {@link #outputDir} (0: only the final model). */
    public final int checkpointInterval;
    /** Checkpoints kept in {@code outputDir/checkpoints}; older ones are deleted after each complete save. */
    public final int keepLast;
    /**
     * What a failed checkpoint save (full disk, fsync or rename failure) does to the run: CONTINUE warns, tells the
     * listeners and tries again at the next interval; STOP closes the trainer and ends the run with the error. Either
     * way the earlier checkpoints are intact and no partial file remains. Not part of {@link #toString()}: a run may
     * resume under another policy.
     */
    public final CheckpointStore.OnSaveFailure onSaveFailure;
    /** Where metrics, the plot and the model go; null: nowhere (an embedded run that only listens). */
    public final Path outputDir;

    public final long seed;
    public final Device device;

    private TrainConfig(Builder b) {
        model = b.model;
        tokenizer = b.tokenizer;
        trainData = List.copyOf(b.trainData);
        validationData = List.copyOf(b.validationData);
        validationFraction = b.validationFraction;
        optimizer = b.optimizer;
        learningRate = b.learningRate;
        beta1 = b.beta1 != null ? b.beta1 : 0.9;
        beta2 = b.beta2 != null ? b.beta2 : (b.optimizer == OptimizerKind.FP32_ADAMW || b.optimizer == OptimizerKind.PEQA_ADAMW ? 0.999 : 0.99);
        weightDecay = b.weightDecay;
        adamEpsilon = b.adamEpsilon;
        steps = b.steps;
        warmupSteps = b.warmupSteps;
        minLrFraction = b.minLrFraction;
        batchSize = b.batchSize;
        gradAccumulation = b.gradAccumulation;
        seqLen = b.seqLen;
        outlierFraction = b.outlierFraction;
        outlierReselectInterval = b.outlierReselectInterval;
        rounding = b.rounding;
        fp32Below = b.fp32Below;
        bits = b.bits;
        groupSize = b.groupSize;
        trainedParts = Set.copyOf(b.trainedParts != null ? b.trainedParts : ModelPart.defaults(b.optimizer));
        clipMode = b.clipMode;
        clipNorm = b.clipNorm;
        updatePolicy = b.updatePolicy;
        evalInterval = b.evalInterval;
        evalSequences = b.evalSequences;
        checkpointInterval = b.checkpointInterval;
        keepLast = b.keepLast;
        onSaveFailure = b.onSaveFailure;
        outputDir = b.outputDir;
        seed = b.seed;
        device = b.device;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values, to derive a variant. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.model = model;
        b.tokenizer = tokenizer;
        b.trainData = new ArrayList<>(trainData);
        b.validationData = new ArrayList<>(validationData);
        b.validationFraction = validationFraction;
        b.optimizer = optimizer;
        b.learningRate = learningRate;
        b.beta1 = beta1;
        b.beta2 = beta2;
        b.weightDecay = weightDecay;
        b.adamEpsilon = adamEpsilon;
        b.steps = steps;
        b.warmupSteps = warmupSteps;
        b.minLrFraction = minLrFraction;
        b.batchSize = batchSize;
        b.gradAccumulation = gradAccumulation;
        b.seqLen = seqLen;
        b.outlierFraction = outlierFraction;
        b.outlierReselectInterval = outlierReselectInterval;
        b.rounding = rounding;
        b.fp32Below = fp32Below;
        b.bits = bits;
        b.groupSize = groupSize;
        b.trainedParts(trainedParts.equals(ModelPart.defaults(optimizer)) ? null : trainedParts);
        b.clipMode = clipMode;
        b.clipNorm = clipNorm;
        b.updatePolicy = updatePolicy;
        b.evalInterval = evalInterval;
        b.evalSequences = evalSequences;
        b.checkpointInterval = checkpointInterval;
        b.keepLast = keepLast;
        b.onSaveFailure = onSaveFailure;
        b.outputDir = outputDir;
        b.seed = seed;
        b.device = device;
        return b;
    }

    /** Tokens the model sees per optimizer step (at most: short JSONL examples use fewer). */
    public long tokensPerStep() {
        return (long) batchSize * gradAccumulation * seqLen;
    }

    /** "4-bit group 128" or "3-bit per-channel". */
    public String peqaLayout() {
        return bits + "-bit " + (groupSize == PER_CHANNEL ? "per-channel" : "group " + groupSize);
    }

    /** "embedding+norms": the trained parts in {@link ModelPart} order. */
    public String trainedPartsLabel() {
        StringBuilder s = new StringBuilder();
        for (ModelPart p : ModelPart.values()) if (trainedParts.contains(p)) s.append(s.length() > 0 ? "+" : "").append(p.label());
        return s.toString();
    }

    /** Names the trained parts only when they are not the optimizer's default, so that older checkpoints still resume. */
    @Override
    public String toString() {
        return (optimizer == OptimizerKind.PEQA_ADAMW ? "PEQA " + peqaLayout() + " " : "") + String.format(Locale.ROOT, "%s lr=%g betas=(%g,%g) wd=%g steps=%d warmup=%d batch=%dx%d seq=%d "
                        + "outliers=%g/%d rounding=%s clip=%s(%g) policy=%s seed=%d device=%s",
                optimizer, learningRate, beta1, beta2, weightDecay, steps, warmupSteps, batchSize, gradAccumulation, seqLen,
                outlierFraction, outlierReselectInterval, rounding, clipMode, clipNorm, updatePolicy, seed, device)
                + (trainedParts.equals(ModelPart.defaults(optimizer)) ? "" : " train=" + trainedPartsLabel());
    }

    public static final class Builder {
        private Path model;
        private Path tokenizer;
        private List<Path> trainData = new ArrayList<>();
        private List<Path> validationData = new ArrayList<>();
        private double validationFraction = 0.1;
        private OptimizerKind optimizer = OptimizerKind.QFT_LION;
        private double learningRate = 1e-4;
        private Double beta1;
        private Double beta2;
        private double weightDecay = 0.0;
        private double adamEpsilon = 1e-8;
        private int steps = 100;
        private int warmupSteps = 0;
        private double minLrFraction = 0.1;
        private int batchSize = 8;
        private int gradAccumulation = 1;
        private int seqLen = 128;
        private double outlierFraction = 0.01;
        private int outlierReselectInterval = 100;
        private Rounding rounding = Rounding.STOCHASTIC_WEYL;
        private int fp32Below = 1024;
        private int bits = 4;
        private int groupSize = 128;
        private Set<ModelPart> trainedParts; // null: ModelPart.defaults(optimizer)
        private ClipMode clipMode = ClipMode.GLOBAL_NORM;
        private double clipNorm = 1.0;
        private UpdatePolicy updatePolicy = UpdatePolicy.STASH;
        private int evalInterval = 0;
        private int evalSequences = 0;
        private int checkpointInterval = 0;
        private int keepLast = 3;
        private CheckpointStore.OnSaveFailure onSaveFailure = CheckpointStore.OnSaveFailure.CONTINUE;
        private Path outputDir;
        private long seed = 0;
        private Device device = Device.CPU;

        private Builder() {}

        public Builder model(Path p) { model = p; return this; }
        public Builder tokenizer(Path p) { tokenizer = p; return this; }
        public Builder trainData(Path... p) { trainData = new ArrayList<>(List.of(p)); return this; }
        public Builder trainData(List<Path> p) { trainData = new ArrayList<>(p); return this; }
        public Builder validationData(Path... p) { validationData = new ArrayList<>(List.of(p)); return this; }
        public Builder validationData(List<Path> p) { validationData = new ArrayList<>(p); return this; }
        public Builder validationFraction(double f) { validationFraction = f; return this; }
        public Builder optimizer(OptimizerKind k) { optimizer = k; return this; }
        public Builder learningRate(double lr) { learningRate = lr; return this; }
        public Builder betas(double b1, double b2) { beta1 = b1; beta2 = b2; return this; }
        public Builder weightDecay(double wd) { weightDecay = wd; return this; }
        public Builder adamEpsilon(double eps) { adamEpsilon = eps; return this; }
        public Builder steps(int n) { steps = n; return this; }
        public Builder warmupSteps(int n) { warmupSteps = n; return this; }
        public Builder minLrFraction(double f) { minLrFraction = f; return this; }
        public Builder batchSize(int n) { batchSize = n; return this; }
        public Builder gradAccumulation(int n) { gradAccumulation = n; return this; }
        public Builder seqLen(int n) { seqLen = n; return this; }
        public Builder outlierFraction(double f) { outlierFraction = f; return this; }
        public Builder outlierReselectInterval(int n) { outlierReselectInterval = n; return this; }
        public Builder rounding(Rounding r) { rounding = r; return this; }
        public Builder fp32Below(int n) { fp32Below = n; return this; }
        /** PEQA's code width: 3 or 4 bits (default 4). */
        public Builder bits(int b) { bits = b; return this; }
        /** PEQA's columns per scale (default 128); {@link #PER_CHANNEL}: one scale per row. */
        public Builder groupSize(int g) { groupSize = g; return this; }
        /** What trains (see {@link TrainConfig#trainedParts}); null: the optimizer's default. */
        public Builder trainedParts(Set<ModelPart> parts) {
            if (parts == null) trainedParts = null;
            else (trainedParts = EnumSet.noneOf(ModelPart.class)).addAll(parts);
            return this;
        }
        public Builder trainedParts(ModelPart first, ModelPart... rest) { return trainedParts(EnumSet.of(first, rest)); }
        public Builder clip(ClipMode mode, double maxNorm) { clipMode = mode; clipNorm = maxNorm; return this; }
        public Builder updatePolicy(UpdatePolicy p) { updatePolicy = p; return this; }
        public Builder evalInterval(int n) { evalInterval = n; return this; }
        public Builder evalSequences(int n) { evalSequences = n; return this; }
        public Builder checkpointInterval(int n) { checkpointInterval = n; return this; }
        public Builder keepLast(int n) { keepLast = n; return this; }
        public Builder onSaveFailure(CheckpointStore.OnSaveFailure p) { onSaveFailure = p; return this; }
        public Builder outputDir(Path p) { outputDir = p; return this; }
        public Builder seed(long s) { seed = s; return this; }
        public Builder device(Device d) { device = d; return this; }

        /** @throws IllegalArgumentException naming every invalid setting with its value */
        public TrainConfig build() {
            List<String> bad = new ArrayList<>();
            if (optimizer == null) bad.add("optimizer must be set");
            if (rounding == null) bad.add("rounding must be set");
            if (clipMode == null) bad.add("clip mode must be set");
            if (updatePolicy == null) bad.add("update policy must be set");
            if (device == null) bad.add("device must be set");
            if (onSaveFailure == null) bad.add("save-failure policy must be set");
            if (model != null && trainData.isEmpty()) bad.add("training data must be given with a model (--data)");
            if (!(validationFraction >= 0 && validationFraction < 1)) bad.add("validation fraction must be in [0, 1), got " + validationFraction);
            if (!(learningRate > 0 && Double.isFinite(learningRate))) bad.add("learning rate must be > 0, got " + learningRate);
            if (beta1 != null && !(beta1 >= 0 && beta1 < 1)) bad.add("beta1 must be in [0, 1), got " + beta1);
            if (beta2 != null && !(beta2 >= 0 && beta2 < 1)) bad.add("beta2 must be in [0, 1), got " + beta2);
            if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) bad.add("weight decay must be >= 0, got " + weightDecay);
            if (!(adamEpsilon > 0)) bad.add("AdamW epsilon must be > 0, got " + adamEpsilon);
            if (steps < 1) bad.add("steps must be >= 1, got " + steps);
            if (warmupSteps < 0 || warmupSteps > steps) bad.add("warmup steps must be in [0, steps=" + steps + "], got " + warmupSteps);
            if (!(minLrFraction >= 0 && minLrFraction <= 1)) bad.add("minimum LR fraction must be in [0, 1], got " + minLrFraction);
            if (batchSize < 1) bad.add("batch size must be >= 1, got " + batchSize);
            if (gradAccumulation < 1) bad.add("gradient accumulation must be >= 1, got " + gradAccumulation);
            if (seqLen < 2) bad.add("sequence length must be >= 2, got " + seqLen);
            if (!(outlierFraction >= 0 && outlierFraction < 0.5)) bad.add("outlier fraction must be in [0, 0.5), got " + outlierFraction);
            if (outlierReselectInterval < 1) bad.add("outlier re-selection interval must be >= 1 step, got " + outlierReselectInterval);
            if (bits != 3 && bits != 4) bad.add("PEQA bits must be 3 or 4, got " + bits);
            if (groupSize < 0) bad.add("PEQA group size must be >= 1, or 0 for per-channel scales, got " + groupSize);
            if (optimizer == OptimizerKind.PEQA_ADAMW && weightDecay != 0)
                bad.add("PEQA trains the scales with weight decay 0 (the paper's recipe: decay would shrink the weights toward 0), got " + weightDecay);
            if (trainedParts != null && trainedParts.isEmpty()) bad.add("trained parts must name at least one of embedding, blocks, norms");
            if (optimizer == OptimizerKind.PEQA_ADAMW && trainedParts != null && !trainedParts.contains(ModelPart.BLOCKS))
                bad.add("PEQA trains the block matrices' scales, so its trained parts must include blocks, got " + trainedParts);
            if (fp32Below < 0) bad.add("fp32 size threshold must be >= 0, got " + fp32Below);
            if (clipMode != ClipMode.NONE && !(clipNorm > 0 && Double.isFinite(clipNorm))) bad.add("clip norm must be > 0, got " + clipNorm);
            if (updatePolicy == UpdatePolicy.FUSED_PER_LAYER && clipMode == ClipMode.GLOBAL_NORM)
                bad.add("FUSED_PER_LAYER updates each tensor before the global norm is known: use PER_TENSOR_NORM or NONE clipping, or the STASH policy");
            if (updatePolicy == UpdatePolicy.FUSED_PER_LAYER && gradAccumulation > 1)
                bad.add("FUSED_PER_LAYER updates during backward, so it cannot accumulate " + gradAccumulation + " micro-batches: use STASH");
            if (evalInterval < 0) bad.add("eval interval must be >= 0, got " + evalInterval);
            if (evalSequences < 0) bad.add("eval sequences must be >= 0, got " + evalSequences);
            if (checkpointInterval < 0) bad.add("checkpoint interval must be >= 0, got " + checkpointInterval);
            if (keepLast < 1) bad.add("checkpoints to keep must be >= 1, got " + keepLast);
            if (checkpointInterval > 0 && outputDir == null) bad.add("checkpoint interval " + checkpointInterval + " needs an output directory");
            if (!bad.isEmpty()) throw new IllegalArgumentException("invalid training config: " + String.join("; ", bad));
            return new TrainConfig(this);
        }
    }
}
