package org.qft4j.llama.device;

import static org.qft4j.llama.device.DeviceOps.attentionBackward;
import static org.qft4j.llama.device.DeviceOps.attentionForward;
import static org.qft4j.llama.device.DeviceOps.linear;
import static org.qft4j.llama.device.DeviceOps.linearBackwardInput;
import static org.qft4j.llama.device.DeviceOps.linearBackwardWeight;
import static org.qft4j.llama.device.DeviceOps.residualAdd;
import static org.qft4j.llama.device.DeviceOps.rmsnormBackward;
import static org.qft4j.llama.device.DeviceOps.rmsnormForward;
import static org.qft4j.llama.device.DeviceOps.rope;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.WeightMatrix;
import org.qft4j.nativ.CoreNative;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/**
 * A LLaMA model whose fp32 weights, activations and gradients live in native tensors on one device, with the
 * teacher-forced forward (and loss) and the full backward of {@link LlamaModel}, op for op, run by {@link DeviceOps}:
 * the C++ references on {@link Device#CPU}, the CUDA kernels on a GPU. The same orchestration serves both backends.
 *
 * <p>With a {@link HybridConfig} the seven linear layers of every block hold QFT's hybrid INT8 weights and run as
 * {@link QftLinear} (INT8 GEMM on per-token quantized activations plus fp32 outliers), and so do the token embedding
 * (looked up row by row from its INT8 codes) and the classifier (a vocabulary chunk at a time); the norms stay fp32.
 * Gradients are fp32 for every parameter either way.
 *
 * <p>All buffers are allocated once for a capacity of (maxBatch, maxT); {@link #close()} frees every one of them.
 * Backward accumulates (+=) into the gradient tensors, which start at zero; {@link #zeroGradients()} clears them.
 * Not thread-safe: one object per thread (CUDA work goes to the calling thread's stream).
 */
public final class DeviceLlama implements AutoCloseable {
    /** Targets below zero are not predicted (prompt tokens, padding). */
    public static final int IGNORE = LlamaModel.IGNORE;

    /**
     * What forward keeps for backward (activation checkpointing, Chen et al. 2016, arXiv 1604.06174). The results are
     * the same bit for bit in every mode: the kernels are deterministic, so a block run again repeats itself.
     */
    public enum Recompute {
        /** Every block's activations: no second forward, the most memory. */
        NONE,
        /** Each block's input; backward runs each block again for its activations (one more forward of the blocks). */
        BLOCKS,
        /**
         * Every k-th block's input, k = ceil(sqrt(layers)): backward first runs each segment of k blocks again for their
         * inputs, then each block for its activations (about two more forwards of the blocks); at LLaMA-7B 12 inputs
         * instead of 33.
         */
        SEGMENTS
    }

    /** Called by {@link #backward(GradientsReady)} each time some parameters' gradients are complete. */
    public interface GradientsReady {
        /** names: the parameters whose gradients hold their final values for this backward, in the order they completed. */
        void ready(List<String> names);

        /**
         * Rows [row0, row0 + count) of name's gradient, (count, cols) fp32 in chunk, valid until this returns: how backward
         * hands over the gradients it streams ({@link #streamsGradient}); ready(name) follows the last rows.
         */
        default void rowsReady(String name, int row0, int count, Tensor chunk) {
            throw new IllegalStateException("the gradient of " + name + " is streamed a row range at a time: this hook must take rowsReady");
        }
    }

    private final Device device;
    private final LlamaConfig cfg;
    private final int maxBatch, maxT;
    private final Scope owned = new Scope();
    private final Map<String, Tensor> parameters = new LinkedHashMap<>(), gradients = new LinkedHashMap<>(); // streamed: null
    private final Map<String, HybridWeight> hybrids = new LinkedHashMap<>();
    private final HybridConfig qft;                           // null: fp32 linear layers
    private final Tensor embedding, finalNorm;                // (V, C) fp32 table (null when hybrid INT8), (C)
    private final HybridWeight embeddingInt8;                 // (V, C) hybrid INT8 table with a HybridConfig, else null
    private final ChunkedClassifier.Weight classifier;        // (V, C), the embedding's when tied
    private final Tensor dEmbedding, dClassifier, dFinalNorm; // gradients of the same shapes (the vocabulary's null when streamed)
    private final LayerWeights[] layer;
    private final LayerTensors[] dLayer;
    private final Recompute recompute;
    private final int segment;                                // blocks per checkpoint segment (SEGMENTS), else 1
    private final boolean sharedBlockGradients;              // the matrices' fp32 gradients are views of one staging buffer
    private final Tensor staging;                             // F32 (largest shared matrix or vocabulary chunk) with sharedBlockGradients, else null
    private final int vocabRows;                              // rows of a vocabulary chunk (classifier logits, streamed gradients)
    private final Map<String, Tensor> blockGradients = new LinkedHashMap<>(); // kind (wq .. w3) -> its view of staging
    private final BlockBuffers[] acts;                        // one per layer, or a single shared one with recomputation
    private final Tensor[] residual;                          // (L+1) x (n, C): the input of each block, then the last output;
                                                              // under SEGMENTS the inputs inside a segment share segment slots
    private final Tensor xf, rstdF;                           // (n, C), (n): the final norm's output and its 1/rms
    private final ChunkedClassifier head;                     // logits and loss a vocabulary chunk at a time
    private final Tensor ids, targetIds;                      // (n) I32
    private final Tensor ropeCos, ropeSin;                    // (maxT, headSize/2)
    // backward scratch
    private final Tensor dx, dxn, delta;                      // the other gradients go over dead activations (BlockBuffers)
    private final long largestBlockMatrix, vocabChunk;        // elements: the dequantize scratch's two needs
    private Tensor dequantized;                               // F32: one dequantized matrix or vocabulary chunk, grown on demand
    private QftLinear.Workspace qftWorkspace;                 // quantized activations, shared by every QftLinear (null: fp32)
    private Int8Backward.BackwardMatmuls backwardMatmuls = Int8Backward.BackwardMatmuls.FP32;
    private Fp32Math fp32Math = Fp32Math.FP32;
    private OutlierProducts outlierProducts = OutlierProducts.FP32_SPARSE;
    private Int8Backward int8Backward;                        // scratch of the INT8 backward matmuls, made on first use

    private int batch, T, predicted;
    private boolean forwardDone, withTargets;
    private Tensor lastLogits;                                // (n, V) logits of the last forward while held, else null
    private double lossSum;
    private float[] positionLosses = new float[0];

    /** Copies the weights (any {@link WeightMatrix}, read row by row as fp32) and allocates for (maxBatch, maxT). */
    public DeviceLlama(LlamaWeights weights, Device device, int maxBatch, int maxT) {
        this(weights, device, maxBatch, maxT, null, Recompute.NONE);
    }

    /**
     * As {@link #DeviceLlama(LlamaWeights, Device, int, int)}, with the blocks' linear layers quantized to QFT's hybrid
     * INT8 format by qft (null keeps them fp32).
     */
    public DeviceLlama(LlamaWeights weights, Device device, int maxBatch, int maxT, HybridConfig qft) {
        this(weights, device, maxBatch, maxT, qft, Recompute.NONE);
    }

    /**
     * As {@link #DeviceLlama(LlamaWeights, Device, int, int, HybridConfig)}, keeping for backward what recompute says
     * ({@link Recompute#BLOCKS} is {@link LlamaModel}'s recompute option: one block's activations instead of one per layer).
     */
    public DeviceLlama(LlamaWeights weights, Device device, int maxBatch, int maxT, HybridConfig qft, Recompute recompute) {
        this(weights, device, maxBatch, maxT, qft, recompute, false);
    }

    /**
     * As {@link #DeviceLlama(LlamaWeights, Device, int, int, HybridConfig, Recompute)}; with sharedBlockGradients the
     * gradients of the blocks' linear layers are views of one fp32 staging buffer the size of the largest of them: one
     * matrix's worth of fp32 gradients instead of one per matrix; with a HybridConfig too, an untied embedding's and
     * classifier's gradients are streamed a vocabulary chunk of rows at a time through the same buffer
     * ({@link GradientsReady#rowsReady}) and never exist whole. A gradient then holds its values only until the next
     * one's, so such a model runs backward only with a {@link GradientsReady} hook that consumes each as it completes
     * (QFT quantizes it to INT8).
     */
    public DeviceLlama(LlamaWeights weights, Device device, int maxBatch, int maxT, HybridConfig qft, Recompute recompute,
                       boolean sharedBlockGradients) {
        LlamaConfig c = weights.config;
        if (maxBatch <= 0 || maxT <= 0 || maxT > c.seqLen())
            throw new IllegalArgumentException("DeviceLlama: need 0 < maxBatch and 0 < maxT <= seq_len " + c.seqLen() + ", got " + maxBatch + ", " + maxT);
        this.device = device.requireUsable();
        this.cfg = c;
        this.maxBatch = maxBatch;
        this.maxT = maxT;
        this.qft = qft;
        this.recompute = Objects.requireNonNull(recompute, "recompute");
        this.segment = recompute == Recompute.SEGMENTS ? (int) Math.ceil(Math.sqrt(c.nLayers())) : 1;
        this.sharedBlockGradients = sharedBlockGradients;
        try {
            int dim = c.dim(), kv = c.kvDim(), h = c.hiddenDim(), v = c.vocabSize(), L = c.nLayers();
            long n = (long) maxBatch * maxT, rows = (long) maxBatch * c.nHeads() * maxT;
            // A tied embedding accumulates the classifier's gradient and its own across backward: it keeps its own buffer.
            boolean streamVocab = sharedBlockGradients && qft != null && !c.sharedClassifier();
            vocabRows = ChunkedClassifier.chunkColumns(n, v, ChunkedClassifier.DEFAULT_CHUNK_BYTES);
            largestBlockMatrix = (long) dim * Math.max(dim, h);
            vocabChunk = (long) vocabRows * dim;
            staging = sharedBlockGradients ? alloc(DType.F32, Math.max(largestBlockMatrix, streamVocab ? vocabChunk : 0)) : null;
            embedding = qft == null ? parameter("token_embedding", weights.tokenEmbedding) : null;
            embeddingInt8 = qft == null ? null : vocabHybrid("token_embedding", weights.tokenEmbedding, streamVocab);
            layer = new LayerWeights[L];
            dLayer = new LayerTensors[L];
            for (int l = 0; l < L; l++) {
                LlamaWeights.Layer y = weights.layers[l];
                String p = "layers." + l + ".";
                layer[l] = new LayerWeights(parameter(p + "attention_norm", y.attentionNorm), blockLinear(p + "wq", y.wq), blockLinear(p + "wk", y.wk),
                        blockLinear(p + "wv", y.wv), blockLinear(p + "wo", y.wo), parameter(p + "ffn_norm", y.ffnNorm), blockLinear(p + "w1", y.w1),
                        blockLinear(p + "w2", y.w2), blockLinear(p + "w3", y.w3));
                dLayer[l] = new LayerTensors(gradients.get(p + "attention_norm"), gradients.get(p + "wq"), gradients.get(p + "wk"),
                        gradients.get(p + "wv"), gradients.get(p + "wo"), gradients.get(p + "ffn_norm"), gradients.get(p + "w1"),
                        gradients.get(p + "w2"), gradients.get(p + "w3"));
            }
            finalNorm = parameter("final_norm", weights.finalNorm);
            HybridWeight classifierInt8 = qft == null ? null : c.sharedClassifier() ? embeddingInt8
                    : vocabHybrid("classifier", weights.classifier, streamVocab);
            Tensor classifierFp32 = qft != null ? null : c.sharedClassifier() ? embedding : parameter("classifier", weights.classifier);
            dEmbedding = gradients.get("token_embedding");
            dClassifier = c.sharedClassifier() ? dEmbedding : gradients.get("classifier");
            dFinalNorm = gradients.get("final_norm");

            acts = new BlockBuffers[recompute == Recompute.NONE ? L : 1];
            for (int l = 0; l < acts.length; l++) acts[l] = new BlockBuffers(n, dim, kv, h, rows);
            residual = new Tensor[L + 1];
            Tensor[] slots = new Tensor[segment];  // slot i % segment holds input i inside a segment (slot 0 unused)
            for (int l = 0; l <= L; l++) {
                boolean kept = l % segment == 0 || l == L;
                if (!kept && slots[l % segment] == null) slots[l % segment] = alloc(DType.F32, n, dim);
                residual[l] = kept ? alloc(DType.F32, n, dim) : slots[l % segment];
            }
            xf = alloc(DType.F32, n, dim);
            rstdF = alloc(DType.F32, n);
            head = owned.add(new ChunkedClassifier(device, Math.toIntExact(n), v, dim, ChunkedClassifier.DEFAULT_CHUNK_BYTES));
            ids = alloc(DType.I32, n);
            targetIds = alloc(DType.I32, n);
            float[][] tables = DeviceOps.ropeTables(c, maxT);
            ropeCos = owned.add(Tensor.of(device, tables[0], maxT, c.headSize() / 2));
            ropeSin = owned.add(Tensor.of(device, tables[1], maxT, c.headSize() / 2));
            dx = alloc(DType.F32, n, dim);
            dxn = alloc(DType.F32, n, dim);
            delta = alloc(DType.F32, rows);
            classifier = qft == null ? new ChunkedClassifier.Fp32(classifierFp32)
                    : new ChunkedClassifier.Hybrid(owned.add(new QftLinear(classifierInt8, workspace())), () -> dequantized(vocabChunk));
        } catch (RuntimeException | Error e) {
            owned.close();
            throw e;
        }
    }

    /** A linear layer y = x Wᵀ of a block: fp32 or QFT's hybrid INT8. */
    private interface Linear {
        void forward(Tensor x, int n, Tensor y);

        void backwardInput(Tensor dy, int n, Tensor dx, boolean accumulate);
    }

    private final class Fp32Linear implements Linear {
        final Tensor w;

        Fp32Linear(Tensor w) { this.w = w; }

        public void forward(Tensor x, int n, Tensor y) { linear(x, w, n, y, false, fp32Math); }

        public void backwardInput(Tensor dy, int n, Tensor dx, boolean accumulate) { linearBackwardInput(dy, w, n, dx, accumulate, fp32Math); }
    }

    private final class HybridLinear implements Linear {
        final QftLinear q;

        HybridLinear(QftLinear q) { this.q = q; }

        public void forward(Tensor x, int n, Tensor y) { q.forward(x, n, y); }

        public void backwardInput(Tensor dy, int n, Tensor dx, boolean accumulate) {
            if (backwardMatmuls == Int8Backward.BackwardMatmuls.FP32) q.backwardInput(dy, n, dx, accumulate, dequantized(largestBlockMatrix), fp32Math);
            else int8Backward().input(q.weight(), dy, n, dx, accumulate, outlierProducts);
        }
    }

    /** One block's weights. */
    private record LayerWeights(Tensor attentionNorm, Linear wq, Linear wk, Linear wv, Linear wo, Tensor ffnNorm, Linear w1, Linear w2, Linear w3) {}

    /** One block's gradients. */
    private record LayerTensors(Tensor attentionNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor ffnNorm, Tensor w1, Tensor w2, Tensor w3) {}

    /** What one block keeps from forward for its backward, for n = B*T tokens (see the Java engine's BlockActivations). */
    private final class BlockBuffers {
        final Tensor xn1, rstd1; // (n, C), (n): attention RMSNorm output and its 1/rms
        final Tensor q, k, v;    // (n, C), (n, KV), (n, KV): projections, q and k after RoPE
        final Tensor lse;        // (B, nHeads, T): log-sum-exp of each query row's scores (backward recomputes the softmax)
        final Tensor ao, x2;     // (n, C): attention output before wo; the residual after attention
        final Tensor xn2, rstd2; // (n, C), (n): FFN RMSNorm output and its 1/rms
        final Tensor h1, h3, g;  // (n, H): w1 x, w3 x, silu(w1 x) * w3 x
        // Backward's attention gradients, over activations that are dead by then (the FFN's backward is done): dao (n, C)
        // over x2, dq (n, C) dk dv (n, KV) over h1 h3 g (own buffers if the FFN is narrower than the model).
        final Tensor dao, dq, dk, dv;

        BlockBuffers(long n, int dim, int kv, int h, long rows) {
            xn1 = alloc(DType.F32, n, dim);
            rstd1 = alloc(DType.F32, n);
            q = alloc(DType.F32, n, dim);
            k = alloc(DType.F32, n, kv);
            v = alloc(DType.F32, n, kv);
            lse = alloc(DType.F32, rows);
            ao = alloc(DType.F32, n, dim);
            x2 = alloc(DType.F32, n, dim);
            xn2 = alloc(DType.F32, n, dim);
            rstd2 = alloc(DType.F32, n);
            h1 = alloc(DType.F32, n, h);
            h3 = alloc(DType.F32, n, h);
            g = alloc(DType.F32, n, h);
            dao = x2.view(n, dim);
            dq = h >= dim ? h1.view(n, dim) : alloc(DType.F32, n, dim);
            dk = h >= kv ? h3.view(n, kv) : alloc(DType.F32, n, kv);
            dv = h >= kv ? g.view(n, kv) : alloc(DType.F32, n, kv);
        }
    }

    public Device device() { return device; }

    public LlamaConfig config() { return cfg; }

    /**
     * Runs the forward pass. tokens: (batch, T) row-major ids; targets: (batch, T) ids to predict at each position or
     * {@link #IGNORE} (any negative value), or null for logits only.
     *
     * @return the mean cross-entropy over the predicted positions (0 when there are none or targets is null)
     */
    public float forward(int[] tokens, int[] targets, int batch, int T) {
        validate(tokens, targets, batch, T);
        int n = batch * T, L = cfg.nLayers();
        this.batch = batch;
        this.T = T;
        forwardDone = false;
        upload(ids, tokens, n);
        if (embeddingInt8 != null) DeviceOps.embeddingForward(embeddingInt8, ids, n, residual[0]);
        else DeviceOps.embeddingForward(embedding, ids, n, residual[0]);
        for (int l = 0; l < L; l++) blockForward(l, residual[l], residual[l + 1]);
        rmsnormForward(residual[L], finalNorm, n, cfg.normEps(), xf, rstdF);
        withTargets = targets != null;
        predicted = 0;
        lossSum = 0;
        if (withTargets) {
            for (int i = 0; i < n; i++) if (targets[i] >= 0) predicted++;
            upload(targetIds, targets, n);
            head.lossForward(xf, classifier, n, targetIds);
            positionLosses = read(head.losses(), n);
            for (int i = 0; i < n; i++) lossSum += positionLosses[i];
            lastLogits = head.heldLogits();
        } else {
            lastLogits = head.logitsForward(xf, classifier, n);
        }
        forwardDone = true;
        return predicted == 0 ? 0f : (float) (lossSum / predicted);
    }

    /**
     * Logits (batch*T, V) of the last forward, copied to the heap: after a forward without targets, or with targets
     * while the classifier's vocabulary fits one chunk (see {@link ChunkedClassifier}) and backward has not run.
     */
    public float[] logits() {
        requireForward("logits");
        if (lastLogits == null)
            throw new IllegalStateException("logits: a forward with targets over a vocabulary of " + cfg.vocabSize() + " in chunks of "
                    + head.chunkColumns() + " keeps no logits (or backward used them); run forward without targets");
        return read(lastLogits, (long) batch * T * cfg.vocabSize());
    }

    /** Sum of -log p(target) over predicted positions of the last forward (double precision). */
    public double lossSum() { return lossSum; }

    /** Number of predicted (non-ignored) positions in the last forward. */
    public int predictedCount() { return predicted; }

    /** -log p(target) per position of the last forward, 0 where ignored; (batch*T). */
    public float[] positionLosses() { return positionLosses.clone(); }

    /** Accumulates the gradient of the last forward's mean loss (which must have had targets) into every gradient tensor. */
    public void backward() {
        if (sharedBlockGradients) throw new IllegalStateException("backward: blocks share their gradient tensors; use backward(GradientsReady)");
        backward(null);
    }

    /**
     * As {@link #backward()}, telling hook (when not null) which gradients are complete as soon as they are: the
     * classifier's and the final norm's, then each block's (last block first) one tensor at a time in the order w2 w3 w1
     * ffn_norm wo wv wk wq attention_norm, then the embedding's. With shared gradients the next matrix overwrites a
     * matrix's gradient, so the hook must use it before it returns.
     */
    public void backward(GradientsReady hook) {
        if (!forwardDone || !withTargets) throw new IllegalStateException("backward: run forward with targets first");
        if (sharedBlockGradients && hook == null) throw new IllegalStateException("backward: blocks share their gradient tensors; a hook must consume them");
        forwardDone = false;
        int n = batch * T, L = cfg.nLayers();
        lastLogits = null;
        // The mean loss's gradient: dlogits = (softmax - onehot) / predicted, a vocabulary chunk at a time.
        ChunkedClassifier.WeightGradient dW = dClassifier != null ? new ChunkedClassifier.Accumulate(dClassifier)
                : new ChunkedClassifier.Stream(staging, (row0, count, chunk) -> hook.rowsReady("classifier", row0, count, chunk));
        head.backward(xf, classifier, targetIds, predicted == 0 ? 0f : 1f / predicted, dxn, dW);
        zero(dx);
        rmsnormBackward(dxn, residual[L], finalNorm, rstdF, n, dx, dFinalNorm);
        if (hook != null) hook.ready(cfg.sharedClassifier() ? List.of("final_norm") : List.of("classifier", "final_norm"));
        for (int l = L - 1; l >= 0; l--) {
            // SEGMENTS: entering a segment other than the last, run it again from its kept input to refill its slots.
            if (recompute == Recompute.SEGMENTS && (l + 1) % segment == 0 && l + 1 < L)
                for (int r = l + 1 - segment; r < l; r++) blockForward(r, residual[r], residual[r + 1]);
            if (recompute != Recompute.NONE) blockForward(l, residual[l], residual[l + 1]);
            blockBackward(l, residual[l], hook);
        }
        if (dEmbedding != null) {
            DeviceOps.embeddingBackward(dx, ids, n, dEmbedding);
        } else {
            // Streamed: each vocabulary chunk's rows from the tokens in it, through the staging buffer.
            int v = cfg.vocabSize();
            for (int row0 = 0; row0 < v; row0 += vocabRows) {
                int count = Math.min(vocabRows, v - row0);
                Tensor rows = staging.view(count, cfg.dim());
                zero(rows);
                DeviceOps.embeddingBackwardRows(dx, ids, n, v, row0, count, rows);
                hook.rowsReady("token_embedding", row0, count, rows);
            }
        }
        if (hook != null) hook.ready(List.of("token_embedding"));
    }

    /** Sets every gradient tensor to zero. */
    public void zeroGradients() {
        Set<Tensor> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor g : gradients.values()) if (g != null) distinct.add(g.base());
        for (Tensor g : distinct) zero(g);
    }

    /** Whether the blocks' linear layers share one gradient tensor per kind (see the constructor). */
    public boolean sharesBlockGradients() { return sharedBlockGradients; }

    /**
     * Parameter names in forward order: token_embedding, per layer attention_norm wq wk wv wo ffn_norm w1 w2 w3, final_norm,
     * then classifier when it is not tied to the embedding.
     */
    public Iterable<String> parameterNames() { return Collections.unmodifiableSet(gradients.keySet()); }

    /** The live fp32 device tensor of a parameter (owned by this model); hybrid INT8 weights are {@link #hybridWeight}. */
    public Tensor parameter(String name) {
        if (hybrids.containsKey(name)) throw new IllegalArgumentException("DeviceLlama: '" + name + "' is a hybrid INT8 weight; use hybridWeight");
        return lookup(parameters, name);
    }

    /** Whether backward streams name's gradient a row range at a time ({@link GradientsReady#rowsReady}) instead of holding it. */
    public boolean streamsGradient(String name) {
        if (!gradients.containsKey(name)) throw new IllegalArgumentException("DeviceLlama: no parameter '" + name + "'; known: " + gradients.keySet());
        return gradients.get(name) == null;
    }

    /** Whether parameter name is a hybrid INT8 weight (with a {@link HybridConfig}: every matrix, the norms are not). */
    public boolean isHybrid(String name) { return hybrids.containsKey(name); }

    /**
     * The live hybrid INT8 weight of a matrix (a block's linear layer, the token embedding, an untied classifier) when
     * built with a {@link HybridConfig} (owned by this model).
     */
    public HybridWeight hybridWeight(String name) {
        HybridWeight w = hybrids.get(name);
        if (w == null) throw new IllegalArgumentException("DeviceLlama: no hybrid INT8 weight '" + name + "'; known: " + hybrids.keySet());
        return w;
    }

    /** The live device tensor of a parameter's gradient (owned by this model), same shape as the parameter. */
    public Tensor gradient(String name) {
        if (streamsGradient(name))
            throw new IllegalStateException("DeviceLlama: the gradient of '" + name + "' is streamed a row range at a time during backward "
                    + "(GradientsReady.rowsReady); it never exists whole");
        return gradients.get(name);
    }

    @Override
    public void close() {
        owned.close();
    }

    private void blockForward(int l, Tensor xIn, Tensor xOut) {
        LayerWeights y = layer[l];
        BlockBuffers a = act(l);
        int n = batch * T, hs = cfg.headSize();
        long c = cfg.dim();
        rmsnormForward(xIn, y.attentionNorm, n, cfg.normEps(), a.xn1, a.rstd1);
        y.wq.forward(a.xn1, n, a.q);
        y.wk.forward(a.xn1, n, a.k);
        y.wv.forward(a.xn1, n, a.v);
        rope(a.q, n, T, cfg.nHeads(), hs, cfg.ropeLayout(), ropeCos, ropeSin, false);
        rope(a.k, n, T, cfg.nKvHeads(), hs, cfg.ropeLayout(), ropeCos, ropeSin, false);
        attentionForward(a.q, a.k, a.v, batch, T, cfg.nHeads(), cfg.nKvHeads(), hs, a.lse, a.ao, fp32Math);
        y.wo.forward(a.ao, n, a.x2);
        residualAdd(a.x2, xIn, n * c);
        rmsnormForward(a.x2, y.ffnNorm, n, cfg.normEps(), a.xn2, a.rstd2);
        y.w1.forward(a.xn2, n, a.h1);
        y.w3.forward(a.xn2, n, a.h3);
        DeviceOps.swigluForward(a.h1, a.h3, (long) n * cfg.hiddenDim(), a.g);
        y.w2.forward(a.g, n, xOut);
        residualAdd(xOut, a.x2, n * c);
    }

    /**
     * On entry dx holds d loss / d (block output); on return d loss / d (block input). Each weight gradient is handed to
     * hook (when not null) as soon as it is complete; shared (staged) ones are overwritten, the others accumulate.
     */
    private void blockBackward(int l, Tensor xIn, GradientsReady hook) {
        LayerWeights y = layer[l];
        LayerTensors d = dLayer[l];
        BlockBuffers a = act(l);
        int n = batch * T, hs = cfg.headSize();
        String p = "layers." + l + ".";
        // FFN: out = x2 + w2 (silu(w1 xn2) * w3 xn2). Its gradients overwrite the activations they come from (dg over g
        // once w2's gradient has read g, dh1 and dh3 over h1 and h3): no (n, hidden) backward buffers. W2 reaches the hook
        // only after its input gradient is taken (a fused update changes it).
        blockWeightGradient(y.w2, dx, a.g, n, d.w2);
        y.w2.backwardInput(dx, n, a.g, false);
        if (hook != null) hook.ready(List.of(p + "w2"));
        DeviceOps.swigluBackward(a.g, a.h1, a.h3, (long) n * cfg.hiddenDim(), a.h1, a.h3);
        y.w3.backwardInput(a.h3, n, dxn, false);
        weightGradient(y.w3, a.h3, a.xn2, n, d.w3, hook, p + "w3");
        y.w1.backwardInput(a.h1, n, dxn, true);
        weightGradient(y.w1, a.h1, a.xn2, n, d.w1, hook, p + "w1");
        rmsnormBackward(dxn, a.x2, y.ffnNorm, a.rstd2, n, dx, d.ffnNorm);
        if (hook != null) hook.ready(List.of(p + "ffn_norm"));
        // attention: x2 = xIn + wo attention(rope(wq xn1), rope(wk xn1), wv xn1)
        Tensor dao = a.dao, dq = a.dq, dk = a.dk, dv = a.dv;
        y.wo.backwardInput(dx, n, dao, false);
        weightGradient(y.wo, dx, a.ao, n, d.wo, hook, p + "wo");
        attentionBackward(dao, a.q, a.k, a.v, a.ao, a.lse, batch, T, cfg.nHeads(), cfg.nKvHeads(), hs, delta, dq, dk, dv, fp32Math);
        rope(dq, n, T, cfg.nHeads(), hs, cfg.ropeLayout(), ropeCos, ropeSin, true);
        rope(dk, n, T, cfg.nKvHeads(), hs, cfg.ropeLayout(), ropeCos, ropeSin, true);
        y.wv.backwardInput(dv, n, dxn, false);
        weightGradient(y.wv, dv, a.xn1, n, d.wv, hook, p + "wv");
        y.wk.backwardInput(dk, n, dxn, true);
        weightGradient(y.wk, dk, a.xn1, n, d.wk, hook, p + "wk");
        y.wq.backwardInput(dq, n, dxn, true);
        weightGradient(y.wq, dq, a.xn1, n, d.wq, hook, p + "wq");
        rmsnormBackward(dxn, xIn, y.attentionNorm, a.rstd1, n, dx, d.attentionNorm);
        if (hook != null) hook.ready(List.of(p + "attention_norm"));
    }

    /** dw (+)= dyᵀ x of layer w: written over a staged (shared) gradient, accumulated into an own one; then handed to hook. */
    private void weightGradient(Linear w, Tensor dy, Tensor x, int n, Tensor dw, GradientsReady hook, String name) {
        blockWeightGradient(w, dy, x, n, dw);
        if (hook != null) hook.ready(List.of(name));
    }

    /** dw (+)= dyᵀ x of layer w, on the INT8 GEMM for a hybrid layer under {@link Int8Backward.BackwardMatmuls#INT8}. */
    private void blockWeightGradient(Linear w, Tensor dy, Tensor x, int n, Tensor dw) {
        if (w instanceof HybridLinear && backwardMatmuls == Int8Backward.BackwardMatmuls.INT8) int8Backward().weight(dy, x, n, dw, !sharedBlockGradients);
        else linearBackwardWeight(dy, x, n, dw, !sharedBlockGradients, fp32Math);
    }

    /**
     * Which backward matmuls of the blocks' hybrid INT8 layers run on the INT8 GEMM ({@link Int8Backward}); FP32 until set.
     * Takes effect at the next backward. A model without a HybridConfig has no INT8 layers and ignores it.
     */
    public void backwardMatmuls(Int8Backward.BackwardMatmuls mode) {
        backwardMatmuls = Objects.requireNonNull(mode, "mode");
    }

    public Int8Backward.BackwardMatmuls backwardMatmuls() {
        return backwardMatmuls;
    }

    /**
     * The arithmetic of the fp32 products (attention, the classifier, the fp32 backward matmuls); FP32 until set.
     * {@link Fp32Math#TF32} runs them on the GPU's tensor cores. Takes effect at the next forward or backward.
     */
    public void fp32Math(Fp32Math math) {
        fp32Math = Objects.requireNonNull(math, "math");
        head.fp32Math(math);
    }

    public Fp32Math fp32Math() {
        return fp32Math;
    }

    /**
     * How the hybrid layers multiply their fp32 outliers: in forward, and in dX under INT8 backward matmuls
     * ({@link OutlierProducts}); FP32_SPARSE until set. Takes effect at the next forward or backward; a model without
     * a HybridConfig has no outliers and ignores it.
     */
    public void outlierProducts(OutlierProducts mode) {
        outlierProducts = Objects.requireNonNull(mode, "mode");
        if (qftWorkspace != null) qftWorkspace.outliers(mode);
    }

    public OutlierProducts outlierProducts() {
        return outlierProducts;
    }

    private BlockBuffers act(int l) {
        return recompute == Recompute.NONE ? acts[l] : acts[0];
    }

    private void validate(int[] tokens, int[] targets, int batch, int T) {
        if (ids.isClosed()) throw new IllegalStateException("DeviceLlama: use after close");
        if (batch <= 0 || batch > maxBatch || T <= 0 || T > maxT)
            throw new IllegalArgumentException("forward: batch " + batch + " x T " + T + " exceeds the capacity " + maxBatch + " x " + maxT);
        int n = batch * T, vocab = cfg.vocabSize();
        if (tokens == null || tokens.length < n || (targets != null && targets.length < n))
            throw new IllegalArgumentException("forward: (batch " + batch + ", T " + T + ") needs " + n + " tokens and targets, got "
                    + (tokens == null ? 0 : tokens.length) + " and " + (targets == null ? 0 : targets.length));
        for (int i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab)
                throw new IllegalArgumentException("forward: token " + tokens[i] + " at " + i + " of (batch " + batch + ", T " + T + ") is outside [0, " + vocab + ")");
            if (targets != null && targets[i] >= vocab)
                throw new IllegalArgumentException("forward: target " + targets[i] + " at " + i + " of (batch " + batch + ", T " + T + ") is outside [0, " + vocab + ")");
        }
    }

    private void requireForward(String what) {
        if (batch == 0) throw new IllegalStateException(what + ": run forward first");
    }

    private Tensor parameter(String name, WeightMatrix m) {
        return register(name, values(m), m.rows(), m.cols());
    }

    private static float[] values(WeightMatrix m) {
        float[] values = new float[Math.multiplyExact(m.rows(), m.cols())];
        for (int r = 0; r < m.rows(); r++) m.row(r, values, r * m.cols());
        return values;
    }

    /** A block's linear layer "layers.N.kind": its gradient is shared by every block's kind when sharedBlockGradients. */
    private Linear blockLinear(String name, WeightMatrix m) {
        Tensor w = owned.add(Tensor.of(device, values(m), m.rows(), m.cols()));
        parameters.put(name, w);
        String kind = name.substring(name.lastIndexOf('.') + 1);
        gradients.put(name, sharedBlockGradients ? blockGradients.computeIfAbsent(kind, k -> staging.view(m.rows(), m.cols()))
                : alloc(DType.F32, m.rows(), m.cols()));
        if (qft == null) return new Fp32Linear(w);
        HybridWeight h = owned.add(HybridWeight.quantize(w, qft));
        parameters.remove(name);
        w.close();
        hybrids.put(name, h);
        return new HybridLinear(owned.add(new QftLinear(h, workspace())));
    }

    /** The INT8 backward scratch shared by the blocks' hybrid layers, sized for the largest of them, made on first use. */
    private Int8Backward int8Backward() {
        if (int8Backward == null) {
            long dim = cfg.dim(), h = cfg.hiddenDim(), nnz = 0;
            for (LayerWeights y : layer)
                for (Linear l : List.of(y.wq(), y.wk(), y.wv(), y.wo(), y.w1(), y.w2(), y.w3()))
                    if (l instanceof HybridLinear hl) nnz = Math.max(nnz, hl.q.weight().nnz());
            int8Backward = owned.add(new Int8Backward(device, maxBatch * maxT, Math.max(dim, h), Math.max(dim, h), largestBlockMatrix, nnz));
        }
        return int8Backward;
    }

    /**
     * The scratch of an fp32 backward against a dequantized weight, at least elements long: the classifier's vocabulary
     * chunk always (its backward stays fp32, see {@link Int8Backward}), a block matrix under FP32 backward matmuls. Made on
     * first use and grown once (freed before the larger one is made), so an INT8 backward holds only the chunk's.
     */
    private Tensor dequantized(long elements) {
        if (dequantized == null || dequantized.numel() < elements) {
            if (dequantized != null) dequantized.close();  // idempotent: the scope closing it again later is harmless
            dequantized = alloc(DType.F32, elements);
        }
        return dequantized;
    }

    /** The quantized-activation scratch shared by every QftLinear, made on first use. */
    private QftLinear.Workspace workspace() {
        if (qftWorkspace == null) {
            qftWorkspace = owned.add(new QftLinear.Workspace(device, maxBatch * maxT, Math.max(cfg.dim(), cfg.hiddenDim())));
            qftWorkspace.outliers(outlierProducts);
        }
        return qftWorkspace;
    }

    /** The embedding or the classifier (V, C) as a hybrid INT8 weight under name; its fp32 gradient streamed or whole. */
    private HybridWeight vocabHybrid(String name, WeightMatrix m, boolean streamed) {
        HybridWeight h;
        try (Tensor w = Tensor.of(device, values(m), m.rows(), m.cols())) {
            h = owned.add(HybridWeight.quantize(w, qft));
        }
        hybrids.put(name, h);
        gradients.put(name, streamed ? null : alloc(DType.F32, m.rows(), m.cols()));
        return h;
    }

    private Tensor parameter(String name, float[] vector) {
        return register(name, vector, vector.length);
    }

    private Tensor register(String name, float[] values, long... shape) {
        Tensor p = owned.add(Tensor.of(device, values, shape));
        parameters.put(name, p);
        gradients.put(name, alloc(DType.F32, shape));
        return p;
    }

    private Tensor alloc(DType dtype, long... shape) {
        return owned.add(Tensor.zeros(device, dtype, shape));
    }

    private void upload(Tensor dst, int[] values, int n) {
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), dst.address(), values, 4L * n), "uploading " + n + " ids into " + dst);
    }

    private float[] read(Tensor src, long count) {
        float[] out = new float[Math.toIntExact(count)];
        NativeStatus.check(CoreNative.qft_copy_to_host(device.nativeId(), out, src.address(), 4L * count), "reading " + count + " values of " + src);
        return out;
    }

    private static void zero(Tensor t) {
        NativeStatus.check(CoreNative.qft_memset_zero(t.device().nativeId(), t.address(), t.byteSize()), "zeroing " + t);
    }

    private static Tensor lookup(Map<String, Tensor> map, String name) {
        Tensor t = map.get(name);
        if (t == null) throw new IllegalArgumentException("DeviceLlama: no parameter '" + name + "'; known: " + map.keySet());
        return t;
    }
}
