package org.qft4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.qft4j.Device;
import org.qft4j.llama.WeightMatrix;
import org.qft4j.peqa.PeqaMatrix;
import org.qft4j.qft.HybridConfig;

/**
 * The trained tensors of one model, in forward order, created as the model is built: QFT hybrid INT8
 * matrices or fp32 tensors, as the optimizer and the size threshold decide; for PEQA, the block matrices' scales
 * ({@link PeqaTensor}) while the embedding, classifier and norms stay frozen (unless {@link ModelPart}s say otherwise:
 * a parts set freezes what it leaves out). It routes completed gradients to the current step's {@link GradientPolicy}.
 * One per trainer: nothing here is static.
 */
public final class ParameterSet implements AutoCloseable {
    private final boolean qft;
    private final int fp32Below;
    private final HybridConfig hybrid;
    private final int peqaBits;      // 0: not PEQA
    private final int peqaGroupSize;
    private final Device peqaDevice;
    private final Set<ModelPart> parts;
    private final List<TrainableTensor> tensors = new ArrayList<>();
    private long frozenBytes;
    private GradientPolicy policy;
    private float gradScale = 1f;

    /** qft: matrices of at least fp32Below elements become {@link QftMatrix}; everything else stays fp32. */
    public ParameterSet(boolean qft, int fp32Below, double outlierFraction) {
        this(qft, fp32Below, outlierFraction, 0, 0, Device.CPU, EnumSet.allOf(ModelPart.class));
    }

    private ParameterSet(boolean qft, int fp32Below, double outlierFraction, int peqaBits, int peqaGroupSize, Device peqaDevice,
                         Set<ModelPart> parts) {
        if (parts.isEmpty()) throw new IllegalArgumentException("no model part to train");
        this.parts = Set.copyOf(parts);
        this.qft = qft;
        this.fp32Below = fp32Below;
        this.hybrid = HybridConfig.outliers(outlierFraction);
        this.peqaBits = peqaBits;
        this.peqaGroupSize = peqaGroupSize;
        this.peqaDevice = peqaDevice;
    }

    /**
     * PEQA: every block matrix is RTN-quantized to {@code bits} with {@code groupSize} columns per scale
     * ({@link TrainConfig#PER_CHANNEL}: one per row) on {@code device}, and only its scales train.
     */
    public static ParameterSet peqa(int bits, int groupSize, Device device) {
        return peqa(bits, groupSize, device, ModelPart.defaults(OptimizerKind.PEQA_ADAMW));
    }

    /**
     * PEQA training {@code parts} (which must include {@link ModelPart#BLOCKS}): {@link ModelPart#EMBEDDING} quantizes the
     * token embedding / classifier like a block matrix and trains its scales, {@link ModelPart#NORMS} trains the norm
     * weights in fp32.
     */
    public static ParameterSet peqa(int bits, int groupSize, Device device, Set<ModelPart> parts) {
        if (bits != 3 && bits != 4) throw new IllegalArgumentException("PEQA bits must be 3 or 4, got " + bits);
        if (!parts.contains(ModelPart.BLOCKS)) throw new IllegalArgumentException("PEQA trains the block matrices' scales; parts " + parts + " leave them out");
        return new ParameterSet(false, 0, 0, bits, groupSize, device, parts);
    }

    public static ParameterSet of(TrainConfig c) {
        if (c.optimizer == OptimizerKind.PEQA_ADAMW) return peqa(c.bits, c.groupSize, c.device, c.trainedParts);
        return new ParameterSet(c.optimizer == OptimizerKind.QFT_LION, c.fp32Below, c.outlierFraction, 0, 0, Device.CPU, c.trainedParts);
    }

    public boolean isPeqa() {
        return peqaBits != 0;
    }

    /**
     * A model weight (rows, cols) initialised from w (row-major): trainable as {@link #matrix} decides when its part
     * (names starting "layers.": {@link ModelPart#BLOCKS}; the others, embedding and classifier:
     * {@link ModelPart#EMBEDDING}) trains; otherwise frozen fp32 and not among {@link #tensors()}.
     */
    WeightMatrix weight(String name, float[] w, int rows, int cols) {
        if (parts.contains(name.startsWith("layers.") ? ModelPart.BLOCKS : ModelPart.EMBEDDING)) return matrix(name, w, rows, cols);
        frozenBytes += 4L * w.length;
        return new FrozenMatrix(w, rows, cols);
    }

    /** A (rows, cols) weight initialised from w (row-major; QFT quantizes it and keeps no reference). */
    public TrainableTensor matrix(String name, float[] w, int rows, int cols) {
        int index = tensors.size();
        if (isPeqa()) {
            PeqaMatrix m = PeqaMatrix.quantize(peqaDevice, w, rows, cols, peqaBits, peqaGroupSize);
            try {
                tensors.add(new PeqaTensor(this, index, name, m));
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            return tensors.get(index);
        }
        TrainableTensor t = qft && (long) rows * cols >= fp32Below && rows > 1
                ? new QftMatrix(this, index, name, w, rows, cols, hybrid)
                : new Fp32Tensor(this, index, name, w, rows, cols);
        tensors.add(t);
        return t;
    }

    /** Whether norm weights train (by default everything but PEQA, which trains the scales only). */
    boolean trainsNorms() {
        return parts.contains(ModelPart.NORMS);
    }

    /** Counts a vector that stays fixed (frozen norm weights) in {@link #weightBytes()}. */
    void freeze(float[] w) {
        frozenBytes += 4L * w.length;
    }

    /** A vector parameter (norm weights), always fp32: the engine reads {@code weights()} and adds into {@code grad()}. */
    public Fp32Tensor vector(String name, float[] w) {
        Fp32Tensor t = new Fp32Tensor(this, tensors.size(), name, w, 1, w.length);
        tensors.add(t);
        return t;
    }

    public List<TrainableTensor> tensors() {
        return Collections.unmodifiableList(tensors);
    }

    public long parameterCount() {
        long n = 0;
        for (TrainableTensor t : tensors) n += t.numel();
        return n;
    }

    /**
     * Bytes of all weights as stored (QFT: INT8 codes, scales and outliers; fp32: 4 per element; PEQA: packed codes,
     * zero-points and scales, plus the frozen fp32 embedding and norms).
     */
    public long weightBytes() {
        long b = frozenBytes;
        for (TrainableTensor t : tensors) b += t.weightBytes();
        return b;
    }

    /** Routes completed gradients of training backward passes to {@code p}; null: discard them (evaluation). */
    void route(GradientPolicy p) {
        policy = p;
    }

    /**
     * Multiplies every delivered gradient: 1/accumulation, so a step's gradient is the mean of its micro-batches'
     * mean-loss gradients.
     */
    void gradScale(float scale) {
        gradScale = scale;
    }

    /** Hands a completed dW (of a matrix, or a norm vector's gradient) to the step's policy; nothing while evaluating. */
    void deliver(TrainableTensor t, float[] dW) {
        if (policy == null) return;
        if (gradScale != 1f) for (int i = 0; i < dW.length; i++) dW[i] *= gradScale;
        policy.gradient(t.index, dW, t.rows, t.cols);
    }

    @Override
    public void close() {
        for (TrainableTensor t : tensors) {
            if (t instanceof QftMatrix q) q.close();
            if (t instanceof PeqaTensor p) p.close();
        }
    }
}
