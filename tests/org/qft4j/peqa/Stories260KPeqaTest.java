package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.Device;
import org.qft4j.llama.Llama2cFormat;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.Tokenizer;

/** RTN b-bit stories260K through the LLaMA engine on Moby-Dick chapter 1 (the reference protocol); skipped without ../shared. */
class Stories260KPeqaTest {
    static Path shared(String relative) {
        Path p = Path.of(System.getProperty("qft4j.shared", "../shared"), relative);
        assumeTrue(Files.exists(p), "no " + p);
        return p;
    }

    @Test
    void rtnPerplexityDegradesWithFewerBitsAndExportReloadsExactly(@TempDir Path dir) throws Exception {
        LlamaWeights fp32 = Llama2cFormat.load(shared("models/stories260K/stories260K.bin"));
        Tokenizer tok = Tokenizer.load(shared("models/stories260K/tok512.bin"));
        String text = Files.readString(shared("data/moby-dick/chapter_1.txt"));
        double base = Perplexity.evaluate(fp32, tok, text).perplexity();
        assertEquals(41.400190, base, 41.400190 * 1e-4, "fp32 reference perplexity");
        LlamaWeights q4 = PeqaModel.quantize(fp32, Device.CPU, 4, 128);
        LlamaWeights q3 = PeqaModel.quantize(fp32, Device.CPU, 3, 128);
        try {
            double p4 = Perplexity.evaluate(q4, tok, text).perplexity();
            double p3 = Perplexity.evaluate(q3, tok, text).perplexity();
            System.out.printf("stories260K moby-dick chapter_1 perplexity: fp32 %.4f, RTN 4-bit g128 %.4f, RTN 3-bit g128 %.4f%n", base, p4, p3);
            assertTrue(base < p4 && p4 < p3, "fp32 < 4-bit < 3-bit: " + base + ", " + p4 + ", " + p3);
            assertEquals(5 * (2 * 64 + 2 * 32 + 2 * 172 + 64 * 2), PeqaModel.trainableParameters(q4));

            Path f = dir.resolve("stories260K-q3.peqa");
            PeqaModel.export(q3, f);
            LlamaWeights back = ModelLoader.load(f); // what `eval` and `generate` open
            try {
                assertEquals(p3, Perplexity.evaluate(back, tok, text).perplexity(), 0.0, "reloaded b-bit model");
            } finally {
                PeqaModel.close(back);
            }
        } finally {
            PeqaModel.close(q4);
            PeqaModel.close(q3);
        }
    }
}
