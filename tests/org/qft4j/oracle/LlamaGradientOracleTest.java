package org.qft4j.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.Llama2cFormat;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.RopeLayout;

/**
 * qft4j's backward against LibTorch autograd on the same weights and batch. Each parameter gradient and the
 * gradient of the embedded input must agree within 1e-5 in the norm max|ours - torch| / max|torch| (per tensor).
 */
class LlamaGradientOracleTest {
    private static final double TOL = 1e-5;

    @Test
    void stories260KGradientsMatchLibTorch() throws Exception {
        String root = System.getProperty("qft4j.shared");
        assumeTrue(root != null && Files.exists(Path.of(root, "models/stories260K/stories260K.bin")), "shared stories260K is absent");
        LlamaWeights w = Llama2cFormat.load(Path.of(root, "models/stories260K/stories260K.bin"));
        check(w, 2, 24, 11);
    }

    @Test
    void tinyUntiedRotateHalfGradientsMatchLibTorch() {
        LlamaConfig cfg = new LlamaConfig(24, 40, 2, 4, 2, 37, 16, 1e-5f, 500f, RopeLayout.ROTATE_HALF, false);
        check(LlamaWeights.random(cfg, 7, 0.3f), 3, 9, 12);
    }

    @Test
    void tinyMultiHeadKvAdjacentGradientsMatchLibTorch() {
        LlamaConfig cfg = new LlamaConfig(32, 48, 3, 4, 4, 50, 12, 1e-5f, 10000f, RopeLayout.ADJACENT_PAIRS, true);
        check(LlamaWeights.random(cfg, 3, 0.25f), 2, 12, 13);
    }

    private static void check(LlamaWeights w, int batch, int T, long seed) {
        LlamaConfig cfg = w.config;
        Random rnd = new Random(seed);
        int n = batch * T;
        int[] tokens = new int[n], targets = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = rnd.nextInt(cfg.vocabSize());
            // about a quarter of the positions are masked out, as prompt tokens are in instruction tuning
            targets[i] = rnd.nextInt(4) == 0 ? LlamaModel.IGNORE : rnd.nextInt(cfg.vocabSize());
        }
        TorchLlama torchModel = new TorchLlama(w);
        Tensor loss = torchModel.loss(tokens, targets, batch, T);
        loss.backward();

        LlamaModel model = new LlamaModel(w, batch, T, false);
        w.zeroNormGradients();
        for (var m : w.matricesInForwardOrder()) ((Fp32Matrix) m).zeroGradient();
        float ours = model.forward(tokens, targets, batch, T);
        model.backward();
        assertEquals(loss.item_float(), ours, 1e-5 * Math.abs(ours), "loss");

        List<float[]> grads = ourGradients(w);
        List<String> names = TorchLlama.parameterNames(cfg);
        List<Tensor> params = torchModel.parameters();
        List<String> report = new ArrayList<>();
        double worst = relative(model.inputEmbeddingGradient(), torchModel.inputGradient(), n * cfg.dim());
        report.add("input_embedding " + worst);
        for (int i = 0; i < names.size(); i++) {
            float[] expected = TorchLlama.values(params.get(i).grad());
            double rel = relative(grads.get(i), expected, expected.length);
            report.add(names.get(i) + " " + rel);
            worst = Math.max(worst, rel);
        }
        System.out.println("gradient oracle " + cfg + " batch " + batch + "x" + T + ": worst max|a-b|/max|b| = " + worst);
        assertTrue(worst <= TOL, "gradient mismatch (max|a-b|/max|b| per tensor): " + report);
    }

    private static List<float[]> ourGradients(LlamaWeights w) {
        List<float[]> out = new ArrayList<>();
        out.add(((Fp32Matrix) w.tokenEmbedding).gradient());
        for (LlamaWeights.Layer y : w.layers) {
            out.add(y.attentionNormGradient);
            for (var m : List.of(y.wq, y.wk, y.wv, y.wo)) out.add(((Fp32Matrix) m).gradient());
            out.add(y.ffnNormGradient);
            for (var m : List.of(y.w1, y.w2, y.w3)) out.add(((Fp32Matrix) m).gradient());
        }
        out.add(w.finalNormGradient);
        if (!w.config.sharedClassifier()) out.add(((Fp32Matrix) w.classifier).gradient());
        return out;
    }

    /** max|a - b| / max|b| over the first n values; b must not be all zero (that would make the check vacuous). */
    static double relative(float[] a, float[] b, int n) {
        double diff = 0, scale = 0;
        for (int i = 0; i < n; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        assertTrue(scale > 0, "reference gradient is all zero");
        return diff / scale;
    }
}
