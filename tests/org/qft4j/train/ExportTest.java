package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.llama.CheckpointFormatException;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.Tokenizer;

/** A trained model's exports evaluate as the model itself: the HF directory (fp32) and the INT8 hybrid checkpoint. */
class ExportTest {
    static final String TEXT = String.join("\n\n", SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 6, 77));

    private static double perplexity(LlamaWeights w, Tokenizer tok) {
        return Perplexity.evaluate(w, tok, TEXT).perplexity();
    }

    private static void assertExportsMatch(OptimizerKind k, Path dir) throws Exception {
        Tokenizer tok = SyntheticTokenizer.create();
        try (Trainer t = new Trainer(ResumeTest.config(k, UpdatePolicy.STASH, dir).toBuilder().checkpointInterval(0).steps(8).build(),
                ResumeTest.initial(), TrainerTest.DATA)) {
            t.run();
            double trained = perplexity(t.weights(), tok);
            t.exportHf(dir.resolve("hf"), "F32");
            t.exportInt8(dir.resolve("model-int8.safetensors"));
            double hf = perplexity(ModelLoader.load(dir.resolve("hf")), tok);
            double int8 = perplexity(ModelLoader.load(dir.resolve("model-int8.safetensors")), tok);
            // HF applies RoPE in the rotate-half layout (rows permuted on export): the same function, another
            // summation order, so equal to float rounding.
            assertEquals(trained, hf, 1e-5 * trained, k + ": HF export perplexity");
            if (k == OptimizerKind.QFT_LION) assertEquals(trained, int8, 0.0, "QFT's INT8 export is the trained weights exactly");
            else assertEquals(trained, int8, 0.05 * trained, k + ": the INT8 export quantizes fp32 weights; perplexity stays close");
            assertTrue(Files.size(dir.resolve("model-int8.safetensors")) < Files.size(dir.resolve("hf").resolve("model.safetensors")) / 2,
                    "the INT8 checkpoint is about a quarter of fp32");
            System.out.printf("%s export perplexity: trained %.6f, HF %.6f, INT8 %.6f%n", k, trained, hf, int8);
        }
    }

    @Test
    void qftExportsEvaluateAsTheTrainedModel(@TempDir Path dir) throws Exception {
        assertExportsMatch(OptimizerKind.QFT_LION, dir);
    }

    @Test
    void anFp32BaselineExportsToo(@TempDir Path dir) throws Exception {
        assertExportsMatch(OptimizerKind.FP32_ADAMW, dir);
    }

    @Test
    void aPlainSafetensorsFileIsNotMistakenForAnInt8Checkpoint(@TempDir Path dir) throws Exception {
        try (Trainer t = new Trainer(ResumeTest.config(OptimizerKind.QFT_LION, UpdatePolicy.STASH, dir).toBuilder().checkpointInterval(0).steps(2).build(),
                ResumeTest.initial(), TrainerTest.DATA)) {
            t.exportHf(dir.resolve("hf"), "BF16");
        }
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> ModelLoader.load(dir.resolve("hf").resolve("model.safetensors")));
        assertTrue(e.getMessage().contains("pass the Hugging Face directory"), e.getMessage());
        assertEquals(TrainerTest.TINY.dim(), ModelLoader.load(dir.resolve("hf")).config.dim());
    }
}
