package org.qft4j.llama.device;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.checkpoint.Checkpoint;
import org.qft4j.checkpoint.CheckpointException;
import org.qft4j.checkpoint.CheckpointSchema;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.nativ.TrainStepNative;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.qft.Int8Blocks;
import org.qft4j.qft.LionConfig;
import org.qft4j.qft.QuantLion;
import org.qft4j.qft.Rounding;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;
import org.qft4j.train.ClipMode;
import org.qft4j.train.LrSchedule;
import org.qft4j.train.MemoryReport;
import org.qft4j.train.OptimizerKind;
import org.qft4j.train.Sequence;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.UpdatePolicy;

/**
 * QFT training (Li et al. 2023, arXiv 2310.07147) on the device engine: the same code trains with the C++ reference
 * ops on {@link Device#CPU} and with the CUDA kernels on a GPU. Owns a {@link DeviceLlama} whose matrices (the blocks'
 * linear layers, the token embedding and the classifier) are hybrid INT8 weights, and all optimizer state on the
 * model's device: INT8 momentum for every matrix, fp32 only for the norms (as the CPU trainer's QFT).
 *
 * <p>One step under the stash policy ({@link UpdatePolicy#STASH}): forward and backward; as soon as backward completes
 * a matrix's fp32 gradient it becomes INT8 blocks (rounded as the config's rounding says: stochastically, keyed by
 * (seed, step, tensor), or to nearest) that are all kept until the update (QFT's gradient stack, sec. 3.3), so the
 * matrices share one fp32 staging buffer and only one matrix's fp32 gradient exists at a time (see
 * {@link DeviceLlama}'s sharedBlockGradients); after backward the global gradient norm is
 * taken over the INT8 gradients and the fp32 tensors' gradients; a non-finite norm skips the step whole (nothing
 * changes but the step counter); otherwise the clip factor is folded into the INT8 gradient scales, one fused
 * {@link QuantLion} step updates every hybrid weight with its INT8 momentum, and fp32 Lion (with the same clip
 * factor) updates the norms. The learning rate follows {@link LrSchedule}.
 *
 * <p>Non-finite activations: a token whose activations hold NaN/Inf gets a NaN quantization scale in the next INT8
 * matmul, so its outputs, the loss and the gradients are NaN, as in fp32, and the step is skipped by the rules above
 * (the quantizers count such rows on the device rather than stopping forward, which would take a host sync per layer).
 * Non-finite logits or gradients (an infinite fp32 outlier, an overflow in backward) follow the same rules.
 *
 * <p>Under the fused policy ({@link UpdatePolicy#FUSED_PER_LAYER}) the same quantization and updates run tensor by
 * tensor during backward, as each gradient completes (see {@link #step(int[], int[], int, int)}): the blocks also
 * share one set of INT8 gradient buffers (one per linear kind, one for the vocabulary matrices), so one block's INT8
 * gradients exist at a time instead of the whole model's. Clipping is per tensor (PER_TENSOR_NORM) or none. With per-tensor or no clipping both policies
 * train bit-identically while every gradient is finite. The fused step reads the device once, after backward: each
 * tensor's norm, clip factor and the non-finite rule are decided on the device ({@code qft_clip_factors}), a skipped
 * tensor's NaN factor making its updates no-ops there.
 *
 * <p>Hyper-parameters come from a {@link TrainConfig}: learningRate, betas, weightDecay, steps, warmupSteps,
 * minLrFraction, batchSize and seqLen (the model's capacity), outlierFraction, outlierReselectInterval, rounding
 * (of the INT8 gradients and of the new INT8 weights), clipMode and clipNorm, seed and device. Not thread-safe.
 */
public final class DeviceQftTrainer implements AutoCloseable {
    /**
     * What one step did: its mean loss, learning rate, the gradient norm before clipping (STASH: global; FUSED_PER_LAYER:
     * the largest tensor's; NaN when a non-finite gradient was met), skipped (nothing updated) or not.
     */
    public record Step(int step, float loss, double lr, double gradNorm, boolean skipped) {}

    /**
     * A hybrid INT8 weight with its INT8 gradient and momentum, and the engine's fp32 gradient it is quantized from (null
     * when backward streams it a row range at a time: an untied embedding's and classifier's).
     */
    private record Hybrid(String name, QuantLion.Param param, Tensor fp32Gradient) implements Trained {
        public long rows() { return param.weight().rows(); }
    }

    /** An fp32 parameter (a norm) viewed as (rows, cols), with its fp32 gradient and Lion momentum. */
    private record Dense(String name, Tensor weight, Tensor gradient, Tensor momentum, long rows, long cols) implements Trained {}

    /** A trained tensor of either kind. */
    private sealed interface Trained permits Hybrid, Dense {
        long rows();
    }

    /** Metadata key of a checkpoint: the {@link TrainConfig} it was trained with. */
    public static final String CONFIG_KEY = "device_qft.config";

    /** Mixed into the seed for the gradients' stochastic rounding, so that it draws apart from the weights'. */
    static final long GRADIENT_STREAM = 0x6772616469656e74L;

    private final TrainConfig config;
    private final LrSchedule schedule;
    private final DeviceLlama model;
    private final Device device;
    private final Scope owned = new Scope();
    private final List<Hybrid> hybrids = new ArrayList<>();
    private final List<Dense> dense = new ArrayList<>();
    private final List<Trained> trained = new ArrayList<>();       // hybrids, then dense
    private final Map<String, Trained> byName = new HashMap<>();
    private final boolean fused;                                    // FUSED_PER_LAYER, else STASH
    private final Tensor rowSums;  // (rows of every trained tensor) fp64 bits in I64: each row's sum of squared gradients
    private final Tensor clip;     // (trained tensors) F32: each gradient's clip factor (NaN: skip), read by the update kernels
    private final Tensor fusedState; // (4) I64: a fused step's {poisoned, updated, skipped, max norm bits}, qft_clip_factors
    private final int totalRows;
    private int step;
    private PhaseTimer timer;  // null: no split points, no synchronisation

    /** Gradients and momentum with one scale per row (as the CPU trainer's QFT optimizer). */
    public DeviceQftTrainer(LlamaWeights initial, TrainConfig config) {
        this(initial, config, Integer.MAX_VALUE);
    }

    /**
     * @param initial the starting weights (read, not modified)
     * @param block   INT8 block size of gradients and momentum (see {@link Int8Blocks#DEFAULT_BLOCK}; >= cols: per row)
     */
    public DeviceQftTrainer(LlamaWeights initial, TrainConfig config, int block) {
        this(initial, config, block, DeviceLlama.Recompute.NONE);
    }

    /**
     * @param recompute activation checkpointing ({@link DeviceLlama.Recompute}): what forward keeps for backward; the
     *                  steps are the same bit for bit in every mode
     */
    public DeviceQftTrainer(LlamaWeights initial, TrainConfig config, int block, DeviceLlama.Recompute recompute) {
        if (config.optimizer != OptimizerKind.QFT_LION)
            throw new IllegalArgumentException("DeviceQftTrainer trains QFT (QFT_LION), not " + config.optimizer);
        if (config.gradAccumulation != 1)
            throw new IllegalArgumentException("DeviceQftTrainer trains without gradient accumulation, got " + config.gradAccumulation);
        if (config.updatePolicy == UpdatePolicy.FUSED_PER_LAYER && config.clipMode == ClipMode.GLOBAL_NORM)
            throw new IllegalArgumentException("FUSED_PER_LAYER cannot clip by the global norm (no gradient outlives its layer): use PER_TENSOR_NORM or NONE");
        if (block < 1) throw new IllegalArgumentException("DeviceQftTrainer: block must be >= 1, got " + block);
        Natives.load(TrainStepNative.class);
        this.config = config;
        this.schedule = LrSchedule.of(config);
        this.device = config.device;
        this.fused = config.updatePolicy == UpdatePolicy.FUSED_PER_LAYER;
        // Both policies consume each matrix's fp32 gradient in backward's hook, so the matrices share one staging buffer.
        this.model = owned.add(new DeviceLlama(initial, device, config.batchSize, config.seqLen, HybridConfig.outliers(config.outlierFraction),
                recompute, true));
        try {
            int id = 0, rows = 0;
            Map<String, Int8Blocks> sharedInt8 = new HashMap<>(); // fused: one INT8 gradient per kind, as the fp32 ones
            for (String name : model.parameterNames()) {
                Tensor g = model.streamsGradient(name) ? null : model.gradient(name);
                if (model.isHybrid(name)) {
                    HybridWeight w = model.hybridWeight(name);
                    int b = Math.min(block, w.cols());
                    Int8Blocks gq = fused ? sharedInt8.computeIfAbsent(gradientKind(name),
                            k -> owned.add(Int8Blocks.zeros(device, w.rows(), w.cols(), b)))
                            : owned.add(Int8Blocks.zeros(device, w.rows(), w.cols(), b));
                    Int8Blocks m = owned.add(Int8Blocks.zeros(device, w.rows(), w.cols(), b));
                    hybrids.add(new Hybrid(name, new QuantLion.Param(id, w, gq, m), g));
                    byName.put(name, hybrids.get(hybrids.size() - 1));
                    rows += w.rows();
                } else {
                    Tensor w = model.parameter(name);
                    long r = w.rank() == 2 ? w.dim(0) : 1, c = w.numel() / r;
                    dense.add(new Dense(name, w, g, owned.add(Tensor.zeros(device, DType.F32, w.shape())), r, c));
                    byName.put(name, dense.get(dense.size() - 1));
                    rows += Math.toIntExact(r);
                }
                id++;
            }
            trained.addAll(hybrids);
            trained.addAll(dense);
            this.totalRows = rows;
            this.rowSums = owned.add(Tensor.zeros(device, DType.I64, Math.max(1, rows)));
            this.clip = owned.add(Tensor.zeros(device, DType.F32, Math.max(1, trained.size())));
            this.fusedState = owned.add(Tensor.zeros(device, DType.I64, 4));
        } catch (RuntimeException | Error e) {
            owned.close();
            throw e;
        }
    }

    /**
     * Which INT8 gradient a matrix shares under FUSED_PER_LAYER: one per linear kind of the blocks (wq .. w3: a block's
     * are updated together, so two kinds never share), one for the embedding and an untied classifier (same shape,
     * updated at different points of backward).
     */
    private static String gradientKind(String name) {
        return name.equals("token_embedding") || name.equals("classifier") ? "vocabulary" : name.substring(name.lastIndexOf('.') + 1);
    }

    /** One step on a batch of sequences (packed into (batch, longest) with ignored padding). */
    public Step step(List<Sequence> batch) {
        int B = batch.size(), T = 0;
        for (Sequence s : batch) T = Math.max(T, s.length());
        int[] tokens = new int[B * T], targets = new int[B * T];
        Arrays.fill(targets, DeviceLlama.IGNORE);
        for (int b = 0; b < B; b++) {
            Sequence s = batch.get(b);
            System.arraycopy(s.inputs(), 0, tokens, b * T, s.length());
            System.arraycopy(s.targets(), 0, targets, b * T, s.length());
        }
        return step(tokens, targets, B, T);
    }

    /**
     * One step: tokens, targets (batch, T) row-major as {@link DeviceLlama#forward}. Under FUSED_PER_LAYER each
     * tensor is quantized, clipped by its own norm and updated as soon as backward completes its gradient (LOMO,
     * arXiv 2306.09782), with the CPU trainer's rule for non-finite gradients ({@link org.qft4j.train.FusedPerLayerPolicy}):
     * the tensors updated before one arrives stay updated, it and every tensor after it in backward are skipped, and
     * the step counts as skipped only when nothing was updated.
     */
    public Step step(int[] tokens, int[] targets, int batch, int T) {
        if (!fused) return update(forwardBackward(tokens, targets, batch, T));
        requireStepsLeft();
        model.zeroGradients();
        float loss = model.forward(tokens, targets, batch, T);
        if (timer != null) timer.lap(PhaseTimer.Phase.FORWARD);
        FusedStep f = new FusedStep(++step);
        NativeStatus.check(CoreNative.qft_memset_zero(device.nativeId(), fusedState.address(), fusedState.byteSize()), "starting a fused step");
        try (QuantLion opt = new QuantLion(device, f.lion)) {
            model.backward(new DeviceLlama.GradientsReady() {
                public void ready(List<String> names) { f.ready(names, opt); }

                public void rowsReady(String name, int row0, int count, Tensor chunk) { quantizeRows(name, f.step, row0, count, chunk); }
            });
        }
        long[] st = new long[4];  // the step's only read from the device
        NativeStatus.check(CoreNative.qft_copy_to_host(device.nativeId(), st, fusedState.address(), 32), "reading the fused step's state");
        boolean poisoned = st[0] != 0;
        // Outlier re-selection, as QuantLion does after an update, for the tensors updated: the first st[1] handed over.
        if (config.outlierReselectInterval > 0 && step % config.outlierReselectInterval == 0)
            for (int i = 0; i < st[1]; i++) if (f.handed.get(i) instanceof Hybrid h) h.param.weight().reselectOutliers();
        return new Step(step, loss, f.lr, poisoned ? Double.NaN : Double.longBitsToDouble(st[3]), st[1] == 0 && st[2] > 0);
    }

    /**
     * One fused step while backward hands over its gradients. Nothing is read back until the step ends: each group's
     * norms, the clip factors and the non-finite rule (qft_clip_factors) are decided on the device, and a skipped
     * tensor's NaN factor turns its updates into no-ops there.
     */
    private final class FusedStep {
        final double lr;
        final LionConfig lion;  // without outlier re-selection: the step does it once it knows which tensors were updated
        final int step;
        final List<Trained> handed = new ArrayList<>();  // in the order backward handed them over

        FusedStep(int step) {
            this.step = step;
            this.lr = schedule.at(step);
            LionConfig c = lionConfig(lr);
            this.lion = new LionConfig(c.lr(), c.beta1(), c.beta2(), c.weightDecay(), c.rounding(), c.seed(), 0);
        }

        void ready(List<String> names, QuantLion opt) {
            if (timer != null) timer.lap(PhaseTimer.Phase.BACKWARD);
            List<Trained> group = new ArrayList<>(names.size());
            for (String name : names) group.add(byName.get(name));
            handed.addAll(group);
            for (Trained t : group) if (t instanceof Hybrid h) quantizeGradient(h, step);
            long[] rows = rowSumsOnDevice(group);
            NativeStatus.check(TrainStepNative.qft_clip_factors(device.nativeId(), rowSums.address(), rows, rows.length, config.clipNorm,
                    config.clipMode == ClipMode.PER_TENSOR_NORM ? 1 : 0, fusedState.address(), clip.address()), "clipping " + names);
            if (timer != null) timer.lap(PhaseTimer.Phase.QUANTIZE);
            for (int i = 0; i < group.size(); i++) {
                // One QuantLion call per hybrid: its non-finite pre-pass skips the whole call, and a later tensor's skip
                // must not undo an earlier one's update. The step keys the stochastic rounding, the same for every call.
                List<QuantLion.Param> params = new ArrayList<>(1);
                apply(group.get(i), clip.address() + 4L * i, params, lion);
                if (params.isEmpty()) continue;
                opt.setStep(step - 1L);
                opt.step(params);
            }
            if (timer != null) timer.lap(PhaseTimer.Phase.OPTIMIZER);
        }
    }

    /**
     * Forward and backward on a batch (STASH only): afterwards the INT8 gradient stack ({@link #gradientStash}) holds
     * the hybrid weights' part of this batch's mean-loss gradient, quantized block by block during backward, and the
     * model's fp32 gradients the embedding's, the classifier's and the norms' (nothing is updated). {@link #update}
     * then applies them.
     */
    public float forwardBackward(int[] tokens, int[] targets, int batch, int T) {
        requireStash("forwardBackward");
        requireStepsLeft();
        model.zeroGradients();
        float loss = model.forward(tokens, targets, batch, T);
        if (timer != null) timer.lap(PhaseTimer.Phase.FORWARD);
        int next = step + 1;  // the step update() takes: it keys the gradients' stochastic rounding
        model.backward(new DeviceLlama.GradientsReady() {
            public void ready(List<String> names) {
                if (timer != null) timer.lap(PhaseTimer.Phase.BACKWARD);
                for (String name : names) if (byName.get(name) instanceof Hybrid h) quantizeGradient(h, next);
                if (timer != null) timer.lap(PhaseTimer.Phase.QUANTIZE);
            }

            public void rowsReady(String name, int row0, int count, Tensor chunk) { quantizeRows(name, next, row0, count, chunk); }
        });
        if (timer != null) timer.lap(PhaseTimer.Phase.BACKWARD);
        return loss;
    }

    /** The INT8 gradient of hybrid weight name as the stash policy keeps it until {@link #update} (shared by the blocks under FUSED_PER_LAYER). */
    public Int8Blocks gradientStash(String name) {
        if (!(byName.get(name) instanceof Hybrid h)) throw new IllegalArgumentException(name + " is not a hybrid weight of this model");
        return h.param.gradient();
    }

    /** Applies the model's current gradients as the next step (STASH only; see the class comment); loss is only reported. */
    public Step update(float loss) {
        requireStash("update");
        requireStepsLeft();
        step++;
        double lr = schedule.at(step);
        LionConfig lion = lionConfig(lr);
        double[] tensorSumSquares = sumSquares(trained);  // the hybrids' from the INT8 stash that backward filled
        double total = 0;
        for (double s : tensorSumSquares) total += s;
        double norm = Math.sqrt(total);
        if (timer != null) timer.lap(PhaseTimer.Phase.QUANTIZE);
        if (!Double.isFinite(norm)) return new Step(step, loss, lr, Double.NaN, true);
        float global = config.clipMode == ClipMode.GLOBAL_NORM ? clipScale(norm) : 1f;
        float[] factors = new float[trained.size()];
        for (int t = 0; t < factors.length; t++)
            factors[t] = config.clipMode == ClipMode.PER_TENSOR_NORM ? clipScale(Math.sqrt(tensorSumSquares[t])) : global;
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), clip.address(), factors, 4L * factors.length), "clip factors");
        List<QuantLion.Param> params = new ArrayList<>(hybrids.size());
        for (int t = 0; t < trained.size(); t++) apply(trained.get(t), clip.address() + 4L * t, params, lion);
        try (QuantLion opt = new QuantLion(device, lion)) {
            // The step keys the weights' stochastic rounding; QuantLion re-selects outliers when step % interval == 0.
            opt.setStep(step - 1L);
            opt.step(params);
        }
        if (timer != null) timer.lap(PhaseTimer.Phase.OPTIMIZER);
        return new Step(step, loss, lr, norm, false);
    }

    /**
     * Applies the clip factor at device address factor (one fp32; NaN: skip) to t's gradient and updates it: an fp32
     * tensor by fp32 Lion now, a hybrid weight by adding it to params for the caller's {@link QuantLion} step (with the
     * INT8 gradient's scales multiplied by the factor: a NaN makes that step a no-op).
     */
    private void apply(Trained t, long factor, List<QuantLion.Param> params, LionConfig lion) {
        if (t instanceof Hybrid h) {
            Tensor s = h.param.gradient().scales();
            NativeStatus.check(TrainStepNative.qft_f32_scale(device.nativeId(), s.address(), s.numel(), factor), "clipping " + h.name);
            params.add(h.param);
        } else if (t instanceof Dense d) {
            NativeStatus.check(TrainStepNative.qft_lion_fp32_scaled_step(device.nativeId(), d.weight.address(), d.gradient.address(),
                    d.momentum.address(), d.weight.numel(), lion.lr(), lion.beta1(), lion.beta2(), lion.weightDecay(), factor),
                    "fp32 Lion on " + d.name);
        }
    }

    private LionConfig lionConfig(double lr) {
        return new LionConfig((float) lr, (float) config.beta1, (float) config.beta2, (float) config.weightDecay,
                config.rounding, config.seed, config.outlierReselectInterval);
    }

    private void requireStepsLeft() {
        if (step >= config.steps) throw new IllegalStateException("DeviceQftTrainer: all " + config.steps + " steps are done");
    }

    private void requireStash(String what) {
        if (fused) throw new IllegalStateException(what + ": FUSED_PER_LAYER updates during backward; use step()");
    }

    /**
     * fp32 gradient -> INT8 blocks with the config's rounding: stochastic from the counter RNG keyed by (seed, step,
     * tensor) on a stream apart from the weights' (seed ^ {@link #GRADIENT_STREAM}), or to nearest.
     */
    private void quantizeGradient(Hybrid h, int step) {
        if (h.fp32Gradient == null) return; // streamed: its rows were quantized as they came (quantizeRows)
        Int8Blocks g = h.param.gradient();
        if (config.rounding == Rounding.NEAREST) {
            g.quantizeFrom(h.fp32Gradient, false);
            return;
        }
        NativeStatus.check(TrainStepNative.qft_int8_blocks_quantize_stochastic(device.nativeId(), h.fp32Gradient.address(), g.rows(),
                g.cols(), g.block(), config.seed ^ GRADIENT_STREAM, step, h.param.tensorId(), 0, g.codes().address(), g.scales().address()),
                "quantizing the gradient of " + h.name);
    }

    /**
     * Rows [row0, row0 + count) of a streamed gradient, (count, cols) fp32 in chunk, into the same rows of its INT8
     * gradient, with the same rounding keys as {@link #quantizeGradient} (the tensor's element index): the codes are those
     * of the whole gradient quantized at once.
     */
    private void quantizeRows(String name, int step, int row0, int count, Tensor chunk) {
        if (timer != null) timer.lap(PhaseTimer.Phase.BACKWARD);
        if (!(byName.get(name) instanceof Hybrid h) || h.fp32Gradient != null)
            throw new IllegalStateException("DeviceQftTrainer: " + name + " is not a streamed hybrid weight");
        Int8Blocks g = h.param.gradient();
        long codes = g.codes().address() + (long) row0 * g.cols(), scales = g.scales().address() + 4L * row0 * g.scales().dim(1);
        int status = config.rounding == Rounding.NEAREST
                ? QftNative.qft_int8_blocks_quantize(device.nativeId(), chunk.address(), count, g.cols(), g.block(), 0, codes, scales)
                : TrainStepNative.qft_int8_blocks_quantize_stochastic(device.nativeId(), chunk.address(), count, g.cols(), g.block(),
                        config.seed ^ GRADIENT_STREAM, step, h.param.tensorId(), row0, codes, scales);
        NativeStatus.check(status, "quantizing rows [" + row0 + ", " + (row0 + count) + ") of the gradient of " + h.name);
        if (timer != null) timer.lap(PhaseTimer.Phase.QUANTIZE);
    }

    private float clipScale(double norm) {
        return norm > config.clipNorm ? (float) (config.clipNorm / norm) : 1f;
    }

    /** Sum of squared gradients of each tensor, from the INT8 gradients where they exist; one read from the device. */
    private double[] sumSquares(List<Trained> tensors) {
        long[] rowCounts = rowSumsOnDevice(tensors);
        int rows = 0;
        for (long r : rowCounts) rows += Math.toIntExact(r);
        long[] bits = new long[rows];
        NativeStatus.check(CoreNative.qft_copy_to_host(device.nativeId(), bits, rowSums.address(), 8L * rows), "reading the gradient row sums");
        double[] perTensor = new double[tensors.size()];
        int r = 0;
        for (int t = 0; t < perTensor.length; t++) perTensor[t] = sum(bits, r, r += Math.toIntExact(rowCounts[t]));
        return perTensor;
    }

    /** Each row's sum of squared gradients of the tensors, consecutively from the start of rowSums; returns their row counts. */
    private long[] rowSumsOnDevice(List<Trained> tensors) {
        int dev = device.nativeId();
        long at = rowSums.address();
        long[] rows = new long[tensors.size()];
        for (int i = 0; i < rows.length; i++) {
            Trained t = tensors.get(i);
            if (t instanceof Hybrid h) {
                Int8Blocks g = h.param.gradient();
                NativeStatus.check(TrainStepNative.qft_int8_blocks_row_sumsq(dev, g.codes().address(), g.scales().address(), g.rows(),
                        g.cols(), g.block(), at), "gradient norm of " + h.name);
            } else if (t instanceof Dense d) {
                NativeStatus.check(TrainStepNative.qft_f32_row_sumsq(dev, d.gradient.address(), d.rows, d.cols, at), "gradient norm of " + d.name);
            }
            at += 8L * t.rows();
            rows[i] = t.rows();
        }
        return rows;
    }

    private static double sum(long[] bits, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += Double.longBitsToDouble(bits[i]);
        return s;
    }

    /**
     * The complete training state now, as copies: every trained tensor as stored under {@code w.<name>} (hybrid
     * weights as {@code .codes .scales .row_ptr .col_idx .values}) and its Lion momentum under {@code opt.<name>}
     * ({@code .m_codes .m_scales} for INT8, {@code .m} for fp32): the CPU trainer's names. The step is the
     * checkpoint's step; with the config's seed it keys the schedule and the stochastic rounding, so nothing else is
     * needed to resume bit-exactly.
     */
    public Map<String, TensorBuffer> state() {
        Map<String, TensorBuffer> out = new LinkedHashMap<>();
        for (Hybrid h : hybrids) {
            HybridWeight w = h.param.weight();
            Int8Blocks m = h.param.momentum();
            out.put("w." + h.name + ".codes", TensorBuffer.ofBytes(DType.I8, w.codes().toBytes(), w.rows(), w.cols()));
            out.put("w." + h.name + ".scales", TensorBuffer.ofFloats(w.scales().toFloats(), w.rows()));
            out.put("w." + h.name + ".row_ptr", TensorBuffer.ofInts(w.rowPtr().toInts(), w.rows() + 1L));
            out.put("w." + h.name + ".col_idx", TensorBuffer.ofInts(w.colIdx().toInts(), w.nnz()));
            out.put("w." + h.name + ".values", TensorBuffer.ofFloats(w.values().toFloats(), w.nnz()));
            out.put("opt." + h.name + ".m_codes", TensorBuffer.ofBytes(DType.I8, m.codes().toBytes(), m.rows(), m.cols()));
            out.put("opt." + h.name + ".m_scales", TensorBuffer.ofFloats(m.scales().toFloats(), m.scales().shape()));
        }
        for (Dense d : dense) {
            out.put("w." + d.name, TensorBuffer.ofFloats(d.weight.toFloats(), d.weight.shape()));
            out.put("opt." + d.name + ".m", TensorBuffer.ofFloats(d.momentum.toFloats(), d.momentum.shape()));
        }
        return out;
    }

    /** Exactly the tensors (names, dtypes, shapes) of {@link #state()} for this model and config. */
    public CheckpointSchema schema() {
        CheckpointSchema s = CheckpointSchema.ANY;
        for (Map.Entry<String, TensorBuffer> e : state().entrySet()) s = s.require(e.getKey(), e.getValue().dtype(), e.getValue().shape());
        return s.rejectUnknown();
    }

    /** Saves {@link #state()} after the current step into store, with the config in the metadata. */
    public CheckpointStore.SaveResult saveCheckpoint(CheckpointStore store) throws CheckpointException {
        return store.save(step, state(), Map.of(CONFIG_KEY, config.toString()));
    }

    /**
     * Continues from a checkpoint of {@link #saveCheckpoint} (load it with {@link #schema()}): weights, momentum and
     * step become the checkpoint's, so the following steps repeat the saved run's bit for bit.
     *
     * @throws CheckpointException when it was saved with another config or is beyond this run's steps (nothing is
     *         changed then), or when its outlier index arrays are inconsistent (the state is then partly overwritten)
     */
    public DeviceQftTrainer resume(Checkpoint c) throws CheckpointException {
        String saved = c.metadata().get(CONFIG_KEY);
        if (!config.toString().equals(saved))
            throw new CheckpointException(c.file(), "it was trained with config [" + saved + "] but this trainer has [" + config + "]");
        if (c.step() > config.steps)
            throw new CheckpointException(c.file(), "it is at step " + c.step() + ", beyond this run's " + config.steps + " steps");
        Map<String, TensorBuffer> in = c.tensors();
        try {
            for (Hybrid h : hybrids) {
                String w = "w." + h.name, o = "opt." + h.name;
                h.param.weight().restore(in.get(w + ".codes").toBytes(), in.get(w + ".scales").toFloats(), in.get(w + ".row_ptr").toInts(),
                        in.get(w + ".col_idx").toInts(), in.get(w + ".values").toFloats());
                h.param.momentum().restore(in.get(o + ".m_codes").toBytes(), in.get(o + ".m_scales").toFloats());
            }
            for (Dense d : dense) {
                upload(d.weight, in.get("w." + d.name).toFloats());
                upload(d.momentum, in.get("opt." + d.name + ".m").toFloats());
            }
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(c.file(), "cannot restore it: " + e + "; this trainer's state is now partly overwritten: close it");
        }
        step = Math.toIntExact(c.step());
        return this;
    }

    private void upload(Tensor t, float[] values) {
        if (values.length != t.numel()) throw new IllegalArgumentException(t + " cannot take " + values.length + " values");
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), t.address(), values, t.byteSize()), "restoring " + t);
    }

    /**
     * Splits the following steps' time into {@link PhaseTimer.Phase}s (the caller starts the timer before each step),
     * synchronising the device at every split point; null stops it.
     */
    public void timePhases(PhaseTimer timer) {
        if (timer != null && !timer.device().equals(device)) throw new IllegalArgumentException("PhaseTimer on " + timer.device() + ", trainer on " + device);
        this.timer = timer;
    }

    /** The model being trained (its weights are live: evaluate or read them between steps). */
    public DeviceLlama model() { return model; }

    public Device device() { return device; }

    /** Which backward matmuls of the INT8 layers run on the INT8 GEMM (see {@link Int8Backward}); FP32 until set. */
    public void backwardMatmuls(Int8Backward.BackwardMatmuls mode) {
        model.backwardMatmuls(mode);
    }

    public TrainConfig config() { return config; }

    /** Steps taken (skipped ones included): the next step is stepsDone() + 1. */
    public int stepsDone() { return step; }

    /**
     * Persistent bytes of the QFT training state, measured from the allocations: weights as stored (hybrid INT8 codes,
     * row scales and fp32 outlier CSR; fp32 tensors), optimizer state (INT8 momentum with its scales; fp32 momentum)
     * and gradients as the step keeps them (INT8 codes with scales, all of them under STASH, one block's under
     * FUSED_PER_LAYER; fp32 for the fp32 tensors). The engine's fp32 staging gradients of the hybrid matrices are not
     * in it: see {@link #fp32StagingGradientBytes()}.
     */
    public MemoryReport memory() {
        long params = 0, weights = 0, optimizer = 0, gradients = 0;
        Set<Int8Blocks> counted = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Hybrid h : hybrids) {
            QuantLion.Param p = h.param;
            params += (long) p.weight().rows() * p.weight().cols();
            weights += p.weight().bytes();
            optimizer += p.momentum().bytes();
            if (counted.add(p.gradient())) gradients += p.gradient().bytes();
        }
        for (Dense d : dense) {
            params += d.weight.numel();
            weights += d.weight.byteSize();
            optimizer += d.momentum.byteSize();
            gradients += d.gradient.byteSize();
        }
        return new MemoryReport(params, weights, optimizer, gradients);
    }

    /**
     * Bytes of the fp32 gradients that backward writes for the hybrid matrices before they are quantized to INT8: under
     * either policy one buffer the size of the largest matrix, which every matrix's gradient uses in turn (a tied
     * embedding and classifier keep their own, which accumulates across backward).
     */
    public long fp32StagingGradientBytes() {
        long b = 0;
        Set<Tensor> counted = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Hybrid h : hybrids) if (h.fp32Gradient != null && counted.add(h.fp32Gradient.base())) b += h.fp32Gradient.base().byteSize();
        return b;
    }

    @Override
    public void close() {
        owned.close();
    }
}
