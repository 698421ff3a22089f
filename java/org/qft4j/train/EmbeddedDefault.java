package org.qft4j.train;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.Tokenizer;
import org.qft4j.llama.TokenizerJson;

/**
 * What {@code train} does with no arguments: a complete QFT fine-tune built from nothing but this project.
 * (1) A tiny LLaMA (2 layers, dim 64, grouped-query attention, character vocabulary) starts from a seeded random
 * init and is pretrained with fp32 AdamW on synthetic "farm" sentences. (2) It is then fine-tuned with QFT
 * (INT8 weights, gradients and momentum) on a shifted distribution, "kitchen" sentences; validation perplexity
 * on held-out kitchen text is reported before and after. Sized for well under 3 minutes on 2 CPU cores.
 */
public final class EmbeddedDefault {
    public static final LlamaConfig MODEL = LlamaConfig.llama2c(64, 176, 2, 4, 2, 259 + SyntheticTokenizer.ALPHABET.length(), 64, true);
    static final int SEQ = 64, BATCH = 16, EVAL_SEQUENCES = 48;

    private EmbeddedDefault() {}

    /** The fine-tune's config: QFT Lion with the defaults a user would start from. */
    public static TrainConfig fineTuneConfig(Path out, int steps) {
        return TrainConfig.builder().optimizer(OptimizerKind.QFT_LION).learningRate(1e-3).weightDecay(0.0).steps(steps)
                .warmupSteps(steps / 10).batchSize(BATCH).seqLen(SEQ).clip(ClipMode.GLOBAL_NORM, 1.0).evalInterval(Math.max(1, steps / 4))
                .evalSequences(EVAL_SEQUENCES).outputDir(out).seed(1).build();
    }

    static TrainConfig pretrainConfig(int steps) {
        return TrainConfig.builder().optimizer(OptimizerKind.FP32_ADAMW).learningRate(3e-3).weightDecay(0.0).steps(steps)
                .warmupSteps(steps / 10).batchSize(BATCH).seqLen(SEQ).clip(ClipMode.GLOBAL_NORM, 1.0).evalSequences(EVAL_SEQUENCES).seed(0).build();
    }

    /** Kitchen sequences, packed, with a tenth held out. */
    static TrainingData.Split data(SyntheticCorpus.Domain d, int documents, long seed, TokenEncoder enc) {
        return TrainingData.split(TrainingData.pack(SyntheticCorpus.documents(d, documents, seed), enc, SEQ), 0.1, seed);
    }

    /** Runs both phases, printing progress to out; writes metrics.jsonl, loss.png, model.bin, tokenizer.bin and hf/ (with tokenizer.json) under dir. */
    public static Trainer.Result run(Path dir, int pretrainSteps, int fineTuneSteps, PrintStream out) {
        Tokenizer tok = SyntheticTokenizer.create();
        TokenEncoder enc = SyntheticTokenizer.encoder(tok);
        out.println("qft4j embedded default: a tiny LLaMA (" + String.format(Locale.ROOT, "%,d", MODEL.parameterCount())
                + " parameters) on synthetic text made by this program");
        out.println("phase 1: pretraining from a seeded random init with fp32 AdamW on 'farm' sentences (" + pretrainSteps + " steps)");
        LlamaWeights pretrained;
        try (Trainer pre = new Trainer(pretrainConfig(pretrainSteps), LlamaWeights.random(MODEL, 42, 0.02f),
                data(SyntheticCorpus.Domain.FARM, 800, 7, enc))) {
            pre.addListener(new ProgressBar(out));
            pre.run();
            pretrained = pre.weights();
        }
        out.println("phase 2: QFT fine-tune (INT8 weights, gradients, momentum; Lion) on shifted 'kitchen' sentences (" + fineTuneSteps + " steps)");
        TrainConfig ft = fineTuneConfig(dir, fineTuneSteps);
        out.println("config: " + ft);
        try (Trainer t = new Trainer(ft, pretrained, data(SyntheticCorpus.Domain.KITCHEN, 400, 11, enc))) {
            Trainer.Result r = CliRun.train(t, "QFT fine-tune of the embedded default model", out);
            try {
                ModelFiles.writeTokenizer(SyntheticTokenizer.pieces(), SyntheticTokenizer.scores(), dir.resolve("tokenizer.bin"));
                TokenizerJson.writeHf(tok, dir.resolve("hf"), MODEL.seqLen());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return r;
        }
    }

    /** Sample sentences of both domains, for the report. */
    static List<String> samples() {
        return List.of(SyntheticCorpus.documents(SyntheticCorpus.Domain.FARM, 1, 1).get(0),
                SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 1, 1).get(0));
    }
}
