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

        // the Hugging Face export carries a tokenizer.json (converted): the HF directory alone evaluates the same
        String hf = out.resolve("hf").toString();
        assertTrue(Files.exists(out.resolve("hf/tokenizer.json")) && Files.exists(out.resolve("hf/tokenizer_config.json")));
        MainTest.Result eHf = MainTest.run("eval", "--model", hf, "--tokenizer", hf, "--text", text.toString());
        assertEquals(0, eHf.status, eHf.err);
        assertEquals(e.out.replaceAll("(?s)mean_nll.*", ""), eHf.out.replaceAll("(?s)mean_nll.*", "")); // same tokens predicted
        assertEquals(perplexity(e.out), perplexity(eHf.out), perplexity(e.out) * 1e-5); // the HF layout's RoPE permutation reorders float sums
    }

    /** Training from a Hugging Face directory finds its tokenizer.json and passes it on to the new export. */
    @Test
    void trainFromHuggingFaceDirectoryUsesItsTokenizerJson(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.write(dir);
        Path hf = dir.resolve("base-hf");
        org.qft4j.llama.hf.HfLlama.write(org.qft4j.llama.ModelLoader.load(f.model()), hf, "F32");
        org.qft4j.llama.TokenizerJson.writeHf(SyntheticTokenizer.create(), hf, 32);
        Path out = dir.resolve("run");
        MainTest.Result r = MainTest.run("train", "--model", hf.toString(), "--data", f.text().toString(), "--steps", "2",
                "--batch", "2", "--seq", "32", "--out", out.toString());
        assertEquals(0, r.status, r.out + r.err);
        assertEquals(Files.readString(hf.resolve("tokenizer.json")), Files.readString(out.resolve("hf/tokenizer.json")));
        MainTest.Result e = MainTest.run("eval", "--model", out.resolve("hf").toString(), "--tokenizer", out.resolve("hf").toString(), "--text", f.text().toString());
        assertEquals(0, e.status, e.err);
        assertTrue(e.out.contains("perplexity "), e.out);
    }

    @Test
    void aTokenizerLargerThanTheModelIsRefusedBeforeTraining(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.write(dir);
        Path json = dir.resolve("big/tokenizer.json");
        Files.createDirectories(json.getParent());
        String vocab = java.util.stream.IntStream.range(0, 400).mapToObj(i -> "\"t" + i + "\": " + i).collect(java.util.stream.Collectors.joining(", "));
        Files.writeString(json, "{\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"t0\", \"vocab\": {" + vocab + "}}}");
        MainTest.Result r = MainTest.run("train", "--model", f.model().toString(), "--tokenizer", json.toString(), "--data", f.text().toString(),
                "--steps", "1", "--out", dir.resolve("run").toString());
        assertEquals(1, r.status, r.out + r.err);
        assertTrue(r.err.contains(json + ": the tokenizer has 400 tokens, more than the model's vocabulary of " + (259 + SyntheticTokenizer.ALPHABET.length())), r.err);
        assertTrue(!Files.exists(dir.resolve("run/model.bin")));
    }

    private static double perplexity(String evalOut) {
        return Double.parseDouble(evalOut.replaceAll("(?s).*perplexity ([0-9.]+).*", "$1"));
    }

    @Test
    void peqaTrainsTheScalesAndEvalAndGenerateRunTheBBitExport(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.write(dir);
        Path out = dir.resolve("peqa");
        MainTest.Result r = MainTest.run("train", "--model", f.model().toString(), "--data", f.text().toString(), "--method", "peqa",
                "--bits", "3", "--group-size", "16", "--steps", "6", "--batch", "2", "--seq", "32", "--lr", "1e-2", "--save-every", "3",
                "--out", out.toString());
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(r.out.contains("config: PEQA 3-bit group 16 PEQA_ADAMW"), r.out);
        assertTrue(r.out.contains("validation perplexity: before "), r.out);
        assertTrue(r.out.contains("wrote " + out.resolve("model-peqa.bin") + " (3-bit group 16)"), r.out);
        assertEquals(1 + 1 + 6 + 1 + 1, Files.readAllLines(out.resolve("metrics.jsonl")).size()); // start, eval, 6 steps, eval, end
        assertTrue(Files.size(out.resolve("loss.png")) > 1000);
        assertTrue(Files.isDirectory(out.resolve("checkpoints")));
        assertTrue(!Files.exists(out.resolve("model.bin")), "PEQA writes the b-bit model only");

        String saved = out.resolve("model-peqa.bin").toString(), tok = out.resolve("tokenizer.bin").toString();
        MainTest.Result e = MainTest.run("eval", "--model", saved, "--tokenizer", tok, "--text", f.text().toString());
        assertEquals(0, e.status, e.err);
        assertTrue(e.out.contains("perplexity "), e.out);
        MainTest.Result g = MainTest.run("generate", "--model", saved, "--tokenizer", tok, "--prompt", "my cook", "--steps", "20");
        assertEquals(0, g.status, g.err);
        assertTrue(g.out.startsWith("my cook"), g.out);

        // The run's own checkpoints resume it: the step-6 checkpoint is the last, so nothing is left to train.
        MainTest.Result again = MainTest.run("train", "--model", f.model().toString(), "--data", f.text().toString(), "--method", "peqa",
                "--bits", "3", "--group-size", "16", "--steps", "6", "--batch", "2", "--seq", "32", "--lr", "1e-2", "--save-every", "3",
                "--out", out.toString());
        assertEquals(0, again.status, again.err);
        assertTrue(again.out.contains("at step 6"), again.out);
    }

    /** --train-parts: PEQA quantizes the embedding too and trains its scales; eval reads the export with its b-bit embedding. */
    @Test
    void peqaWithTheEmbeddingExportsAModelThatEvalRuns(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.write(dir);
        Path out = dir.resolve("peqa-emb");
        MainTest.Result r = MainTest.run("train", "--model", f.model().toString(), "--data", f.text().toString(), "--method", "peqa",
                "--group-size", "16", "--train-parts", "embedding,blocks", "--steps", "4", "--batch", "2", "--seq", "32", "--lr", "1e-2",
                "--out", out.toString());
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(r.out.contains("train=embedding+blocks"), r.out);
        MainTest.Result e = MainTest.run("eval", "--model", out.resolve("model-peqa.bin").toString(), "--tokenizer",
                out.resolve("tokenizer.bin").toString(), "--text", f.text().toString());
        assertEquals(0, e.status, e.err);
        assertTrue(e.out.contains("perplexity "), e.out);
    }

    @Test
    void badPeqaOptionsExitWithAMessage() {
        String[] common = {"train", "--model", "x.bin", "--data", "y.txt"};
        MainTest.Result r = MainTest.run(concat(common, "--method", "peqa", "--bits", "5"));
        assertEquals(2, r.status);
        assertTrue(r.err.contains("PEQA bits must be 3 or 4, got 5"), r.err);
        r = MainTest.run(concat(common, "--bits", "3"));
        assertTrue(r.err.contains("--bits and --group-size need --method peqa"), r.err);
        r = MainTest.run(concat(common, "--method", "peqa", "--optimizer", "lion"));
        assertTrue(r.err.contains("--method peqa trains the scales with AdamW; drop --optimizer lion"), r.err);
        r = MainTest.run(concat(common, "--method", "peqa", "--group-size", "0"));
        assertTrue(r.err.contains("--group-size: give a positive number of columns or 'channel', got '0'"), r.err);
        r = MainTest.run(concat(common, "--method", "peqa", "--weight-decay", "0.1"));
        assertTrue(r.err.contains("PEQA trains the scales with weight decay 0"), r.err);
        r = MainTest.run(concat(common, "--method", "peqa", "--train-parts", "embedding,norms"));
        assertTrue(r.err.contains("PEQA trains the block matrices' scales, so its trained parts must include blocks"), r.err);
        r = MainTest.run(concat(common, "--train-parts", "blocks,heads"));
        assertTrue(r.err.contains("model part must be embedding, blocks or norms, got 'heads'"), r.err);
        r = MainTest.run(concat(common, "--method", "lora"));
        assertTrue(r.err.contains("--method: use peqa"), r.err);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
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
