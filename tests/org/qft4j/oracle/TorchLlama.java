package org.qft4j.oracle;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.RopeLayout;
import org.qft4j.llama.WeightMatrix;

/**
 * The same LLaMA model written with LibTorch tensor ops (CPU, fp32, autograd): the oracle for qft4j's forward and
 * backward. Parameters are leaf tensors copied from {@link LlamaWeights}; the embedded input keeps its gradient.
 * RoPE is written as q*cos + (q P)*sin with P the (hs, hs) pair-swap matrix of the layout, so both layouts share code.
 */
public final class TorchLlama {
    public final LlamaConfig cfg;
    public final Tensor embedding, classifier, finalNorm;
    public final Tensor[] attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3;
    private final Tensor swap;
    private Tensor input; // (B, T, C) embedded tokens of the last forward, retains its gradient

    public TorchLlama(LlamaWeights w) {
        cfg = w.config;
        int l = cfg.nLayers();
        embedding = leaf(w.tokenEmbedding);
        classifier = cfg.sharedClassifier() ? embedding : leaf(w.classifier);
        finalNorm = leaf(w.finalNorm);
        attentionNorm = new Tensor[l];
        wq = new Tensor[l];
        wk = new Tensor[l];
        wv = new Tensor[l];
        wo = new Tensor[l];
        ffnNorm = new Tensor[l];
        w1 = new Tensor[l];
        w2 = new Tensor[l];
        w3 = new Tensor[l];
        for (int i = 0; i < l; i++) {
            LlamaWeights.Layer y = w.layers[i];
            attentionNorm[i] = leaf(y.attentionNorm);
            wq[i] = leaf(y.wq);
            wk[i] = leaf(y.wk);
            wv[i] = leaf(y.wv);
            wo[i] = leaf(y.wo);
            ffnNorm[i] = leaf(y.ffnNorm);
            w1[i] = leaf(y.w1);
            w2[i] = leaf(y.w2);
            w3[i] = leaf(y.w3);
        }
        int hs = cfg.headSize(), half = hs / 2;
        float[] p = new float[hs * hs];
        for (int i = 0; i < half; i++) {
            int a = cfg.ropeLayout() == RopeLayout.ADJACENT_PAIRS ? 2 * i : i;
            int b = cfg.ropeLayout() == RopeLayout.ADJACENT_PAIRS ? a + 1 : a + half;
            p[b * hs + a] = -1f; // (qP)[a] = -q[b]
            p[a * hs + b] = 1f;  // (qP)[b] = q[a]
        }
        swap = torch.tensor(p).reshape(hs, hs);
    }

    /** Every parameter tensor, in the order of {@link #parameterNames()}. */
    public List<Tensor> parameters() {
        List<Tensor> out = new ArrayList<>(List.of(embedding));
        for (int i = 0; i < cfg.nLayers(); i++) out.addAll(List.of(attentionNorm[i], wq[i], wk[i], wv[i], wo[i], ffnNorm[i], w1[i], w2[i], w3[i]));
        out.add(finalNorm);
        if (!cfg.sharedClassifier()) out.add(classifier);
        return out;
    }

    public static List<String> parameterNames(LlamaConfig cfg) {
        List<String> out = new ArrayList<>(List.of("token_embedding"));
        for (int i = 0; i < cfg.nLayers(); i++)
            for (String n : List.of("attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3")) out.add("layers." + i + "." + n);
        out.add("final_norm");
        if (!cfg.sharedClassifier()) out.add("classifier");
        return out;
    }

    /** Mean cross-entropy over targets >= 0 (ignore_index -1), like LlamaModel.forward; tokens, targets: (B, T). */
    public Tensor loss(int[] tokens, int[] targets, int batch, int T) {
        int c = cfg.dim(), hs = cfg.headSize(), n = batch * T;
        long[] tok = new long[n], tgt = new long[n];
        for (int i = 0; i < n; i++) {
            tok[i] = tokens[i];
            tgt[i] = targets[i] < 0 ? -1 : targets[i];
        }
        input = embedding.index_select(0, torch.tensor(tok)).reshape(batch, T, c);
        input.retain_grad();
        float[] cos = new float[T * hs], sin = new float[T * hs], mask = new float[T * T];
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < hs / 2; i++) {
                float freq = 1.0f / (float) Math.pow(cfg.ropeTheta(), (2 * i) / (float) hs);
                float val = t * freq;
                int a = cfg.ropeLayout() == RopeLayout.ADJACENT_PAIRS ? 2 * i : i;
                int b = cfg.ropeLayout() == RopeLayout.ADJACENT_PAIRS ? a + 1 : a + hs / 2;
                cos[t * hs + a] = cos[t * hs + b] = (float) Math.cos(val);
                sin[t * hs + a] = sin[t * hs + b] = (float) Math.sin(val);
            }
            for (int s = t + 1; s < T; s++) mask[t * T + s] = Float.NEGATIVE_INFINITY;
        }
        Tensor cosT = torch.tensor(cos).reshape(1, T, 1, hs), sinT = torch.tensor(sin).reshape(1, T, 1, hs);
        Tensor maskT = torch.tensor(mask).reshape(T, T);
        int group = cfg.nHeads() / cfg.nKvHeads();
        Tensor x = input;
        for (int l = 0; l < cfg.nLayers(); l++) {
            Tensor xn = norm(x, attentionNorm[l]);
            Tensor q = rope(xn.matmul(wq[l].t()).reshape(batch, T, cfg.nHeads(), hs), cosT, sinT).transpose(1, 2);
            Tensor k = rope(xn.matmul(wk[l].t()).reshape(batch, T, cfg.nKvHeads(), hs), cosT, sinT).transpose(1, 2);
            Tensor v = xn.matmul(wv[l].t()).reshape(batch, T, cfg.nKvHeads(), hs).transpose(1, 2);
            k = torch.repeat_interleave(k, group, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
            v = torch.repeat_interleave(v, group, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
            Tensor scores = q.matmul(k.transpose(2, 3)).mul(new org.bytedeco.pytorch.Scalar(1.0 / Math.sqrt(hs))).add(maskT);
            Tensor att = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(batch, T, c);
            x = x.add(att.matmul(wo[l].t()));
            Tensor xn2 = norm(x, ffnNorm[l]);
            Tensor g = torch.silu(xn2.matmul(w1[l].t())).mul(xn2.matmul(w3[l].t()));
            x = x.add(g.matmul(w2[l].t()));
        }
        Tensor logits = norm(x, finalNorm).matmul(classifier.t()).reshape(n, cfg.vocabSize());
        return torch.nll_loss(torch.log_softmax(logits, 1), torch.tensor(tgt), new TensorOptional(), 1 /* mean */, -1);
    }

    /** d loss / d (embedded input) of the last backward, (B*T*C). */
    public float[] inputGradient() {
        return values(input.grad());
    }

    public static float[] values(Tensor t) {
        Tensor c = t.contiguous();
        float[] out = new float[(int) c.numel()];
        c.data_ptr_float().get(out);
        return out;
    }

    private Tensor rope(Tensor x, Tensor cos, Tensor sin) {
        return x.mul(cos).add(x.matmul(swap).mul(sin));
    }

    private Tensor norm(Tensor x, Tensor w) {
        return torch.rms_norm(x, new long[] {cfg.dim()}, new TensorOptional(w), new DoubleOptional(cfg.normEps()));
    }

    private static Tensor leaf(WeightMatrix m) {
        float[] a = new float[m.rows() * m.cols()];
        for (int r = 0; r < m.rows(); r++) m.row(r, a, r * m.cols());
        return torch.tensor(a).reshape(m.rows(), m.cols()).requires_grad_(true);
    }

    private static Tensor leaf(float[] v) {
        return torch.tensor(v.clone()).requires_grad_(true);
    }
}
