package org.qft4j.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;

/**
 * A LLaMA model whose tensors belong to a {@link ParameterSet}: every weight matrix becomes a
 * {@link TrainableTensor} (in {@link LlamaWeights#mapMatrices} order), every norm vector an {@link Fp32Tensor}
 * sharing its array with the model (PEQA: the block matrices become {@link PeqaTensor}s, the embedding, classifier and
 * norms stay frozen by default; {@link ModelPart}s a run leaves out stay frozen). Runs micro-batches of {@link Sequence}s, padded to the longest one.
 */
final class TrainableLlama {
    final LlamaWeights weights;
    private final List<Fp32Tensor> norms = new ArrayList<>();
    private final List<float[]> normGradients = new ArrayList<>(); // the engine's += accumulators, same order
    private final List<float[]> frozenNormGradients = new ArrayList<>(); // frozen norms: accumulated by the engine, discarded
    private final LlamaModel model;
    private final int maxBatch;
    private final int maxT;

    TrainableLlama(LlamaWeights source, ParameterSet params, int maxBatch, int maxT) {
        LlamaWeights mapped = source.mapMatrices((name, m) -> {
            float[] w = new float[m.rows() * m.cols()];
            for (int r = 0; r < m.rows(); r++) m.row(r, w, r * m.cols());
            return params.weight(name, w, m.rows(), m.cols());
        });
        // mapMatrices shares the norm vectors with the source: copy them, or training would modify the caller's model.
        LlamaWeights.Layer[] layers = new LlamaWeights.Layer[mapped.layers.length];
        for (int l = 0; l < layers.length; l++) {
            LlamaWeights.Layer y = mapped.layers[l];
            layers[l] = new LlamaWeights.Layer(y.attentionNorm.clone(), y.wq, y.wk, y.wv, y.wo, y.ffnNorm.clone(), y.w1, y.w2, y.w3);
        }
        weights = new LlamaWeights(mapped.config, mapped.tokenEmbedding, mapped.classifier, layers, mapped.finalNorm.clone());
        for (int l = 0; l < weights.layers.length; l++) {
            LlamaWeights.Layer y = weights.layers[l];
            norm(params, "layers." + l + ".attention_norm", y.attentionNorm, y.attentionNormGradient);
            norm(params, "layers." + l + ".ffn_norm", y.ffnNorm, y.ffnNormGradient);
        }
        norm(params, "final_norm", weights.finalNorm, weights.finalNormGradient);
        this.maxBatch = maxBatch;
        this.maxT = Math.min(maxT, weights.config.seqLen());
        model = new LlamaModel(weights, maxBatch, this.maxT, false);
    }

    private void norm(ParameterSet params, String name, float[] w, float[] grad) {
        if (!params.trainsNorms()) {
            params.freeze(w);
            frozenNormGradients.add(grad);
            return;
        }
        norms.add(params.vector(name, w));
        normGradients.add(grad);
    }

    /** Sum of -log p(target) and the number of scored targets. */
    record Loss(double sum, long count) {
        Loss plus(Loss o) {
            return new Loss(sum + o.sum, count + o.count);
        }

        double mean() {
            return count == 0 ? Double.NaN : sum / count;
        }
    }

    /** Forward (and backward when {@code train}) over a micro-batch of at most maxBatch sequences. */
    Loss run(List<Sequence> batch, boolean train) {
        if (batch.isEmpty() || batch.size() > maxBatch) throw new IllegalArgumentException("micro-batch of " + batch.size() + " sequences, capacity " + maxBatch);
        int T = 0;
        for (Sequence s : batch) T = Math.max(T, s.length());
        if (T > maxT) throw new IllegalArgumentException("sequence of " + T + " tokens exceeds the model's " + maxT);
        int[] tokens = new int[batch.size() * T], targets = new int[batch.size() * T];
        Arrays.fill(targets, LlamaModel.IGNORE);
        for (int b = 0; b < batch.size(); b++) {
            Sequence s = batch.get(b);
            System.arraycopy(s.inputs(), 0, tokens, b * T, s.length());
            System.arraycopy(s.targets(), 0, targets, b * T, s.length());
        }
        model.forward(tokens, targets, batch.size(), T);
        Loss loss = new Loss(model.lossSum(), model.predictedCount());
        if (train && loss.count() > 0) {
            model.backward();
            // The engine accumulates norm gradients into its own vectors; they complete with the backward pass.
            for (int i = 0; i < norms.size(); i++) {
                float[] g = normGradients.get(i);
                norms.get(i).owner.deliver(norms.get(i), g);
                Arrays.fill(g, 0f);
            }
            for (float[] g : frozenNormGradients) Arrays.fill(g, 0f);
        }
        return loss;
    }

    long activationBytes() {
        return model.activationBytes();
    }
}
