package org.qft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.train.ModelFiles;
import org.qft4j.train.SyntheticCorpus;
import org.qft4j.train.SyntheticTokenizer;

class TrainCommandsTest {
    /** A random tiny llama2.c model with the synthetic tokenizer beside it, and synthetic training text. */
    record Fixture(Path model, Path text) {
        static Fixture write(Path dir) throws java.io.IOException {
            LlamaConfig cfg = LlamaConfig.llama2c(32, 64, 1, 4, 2, 259 + SyntheticTokenizer.ALPHABET.length(), 32, true);
            Path model = dir.resolve("base/model.bin");
            ModelFiles.writeLlama2c(LlamaWeights.random(cfg, 1, 0.05f), model);
            ModelFiles.writeTokenizer(SyntheticTokenizer.pieces(), SyntheticTokenizer.scores(), dir.resolve("base/tokenizer.bin"));
            Path text = dir.resolve("kitchen.txt");
            Files.writeString(text, String.join("\n\n", SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 30, 2)));
            return new Fixture(model, text);
        }
    }

    @Test
    void trainWritesEverythingAndEvalAndGenerateUseIt(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.write(dir);
        Path model = f.model(), text = f.text();
        Path out = dir.resolve("run");
        MainTest.Result r = MainTest.run("train", "--model", model.toString(), "--data", text.toString(), "--steps", "4",
                "--batch", "2", "--seq", "32", "--lr", "3e-3", "--eval-every", "2", "--out", out.toString());
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(r.out.contains("validation perplexity: before "), r.out);
        assertTrue(r.out.contains("training state: "), r.out);
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(1 + 1 + 4 + 1 + 1 + 1, metrics.size(), String.join("\n", metrics)); // start, eval@0, 4 steps, eval@2, eval@4, end
        assertTrue(Files.size(out.resolve("loss.png")) > 1000);
        assertTrue(Files.exists(out.resolve("tokenizer.bin")));

        String saved = out.resolve("model.bin").toString(), tok = out.resolve("tokenizer.bin").toString();
        MainTest.Result e = MainTest.run("eval", "--model", saved, "--tokenizer", tok, "--text", text.toString());
        assertEquals(0, e.status, e.err);
        assertTrue(e.out.contains("perplexity "), e.out);
        MainTest.Result g = MainTest.run("generate", "--model", saved, "--tokenizer", tok, "--prompt", "my cook", "--steps", "20");
        assertEquals(0, g.status, g.err);
        assertTrue(g.out.startsWith("my cook"), g.out);
    }

    @Test
    void badOptionsExitWithAMessage() {
        MainTest.Result r = MainTest.run("train", "--steps", "0", "--model", "x.bin", "--data", "y.txt");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("steps must be >= 1, got 0"), r.err);
        r = MainTest.run("train", "--optimizer", "sgd");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("--optimizer: use qft, lion or adamw, got 'sgd'"), r.err);
        r = MainTest.run("train", "--clip", "global");
        assertTrue(r.err.contains("--clip: use none, global:NORM or tensor:NORM"), r.err);
    }
}
