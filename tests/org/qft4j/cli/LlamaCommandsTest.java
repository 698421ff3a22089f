package org.qft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCommandsTest {
    private static String shared(String rel) {
        String root = System.getProperty("qft4j.shared");
        assumeTrue(root != null && Files.exists(Path.of(root, rel)), rel + " is absent");
        return Path.of(root, rel).toString();
    }

    @Test
    void evalPrintsReferencePerplexity() {
        MainTest.Result r = MainTest.run("eval", "--model", shared("models/stories260K/stories260K.bin"),
                "--tokenizer", shared("models/stories260K/tok512.bin"), "--text", shared("data/moby-dick/chapter_1.txt"));
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.contains("paragraphs 16\npredicted_tokens 5710\n"), r.out);
        double ppl = Double.parseDouble(r.out.replaceAll("(?s).*perplexity ([0-9.]+).*", "$1"));
        assertEquals(41.400190, ppl, 41.400190 * 1e-4);
    }

    /** The same protocol through tokenizer.json (converted from tok512.bin, read by DJL): the same ids, so the same number. */
    @Test
    void evalWithConvertedTokenizerJsonPrintsReferencePerplexity(@TempDir Path dir) {
        String model = shared("models/stories260K/stories260K.bin"), text = shared("data/moby-dick/chapter_1.txt");
        Path json = dir.resolve("tokenizer.json");
        MainTest.Result c = MainTest.run("convert-tokenizer", "--tokenizer", shared("models/stories260K/tok512.bin"), "--out", json.toString());
        assertEquals(0, c.status, c.err);
        MainTest.Result r = MainTest.run("eval", "--model", model, "--tokenizer", json.toString(), "--text", text);
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.contains("paragraphs 16\npredicted_tokens 5710\n"), r.out);
        double ppl = Double.parseDouble(r.out.replaceAll("(?s).*perplexity ([0-9.]+).*", "$1"));
        assertEquals(41.400190, ppl, 41.400190 * 1e-4);
        assertEquals(r.out, MainTest.run("eval", "--model", model, "--tokenizer", shared("models/stories260K/tok512.bin"), "--text", text).out);

        MainTest.Result g = MainTest.run("generate", "--model", model, "--tokenizer", json.toString(), "--prompt", "Once upon a time", "--temperature", "0", "--steps", "60");
        assertEquals(0, g.status, g.err);
        assertEquals(MainTest.run("generate", "--model", model, "--tokenizer", shared("models/stories260K/tok512.bin"), "--prompt", "Once upon a time",
                "--temperature", "0", "--steps", "60").out, g.out);
    }

    @Test
    void tokenizerLargerThanTheModelIsAnError(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("tokenizer.json");
        String vocab = java.util.stream.IntStream.range(0, 600).mapToObj(i -> "\"t" + i + "\": " + i).collect(java.util.stream.Collectors.joining(", "));
        Files.writeString(json, "{\"model\": {\"type\": \"WordLevel\", \"unk_token\": \"t0\", \"vocab\": {" + vocab + "}}}");
        MainTest.Result r = MainTest.run("eval", "--model", shared("models/stories260K/stories260K.bin"), "--tokenizer", json.toString(), "--text", json.toString());
        assertEquals(1, r.status);
        assertTrue(r.err.contains("the tokenizer has 600 tokens, more than the model's vocabulary of 512"), r.err);
    }

    @Test
    void greedyGenerateWithPromptIsDeterministic() throws Exception {
        String model = shared("models/stories260K/stories260K.bin"), tok = shared("models/stories260K/tok512.bin");
        MainTest.Result r = MainTest.run("generate", "--model", model, "--tokenizer", tok, "--prompt", "Once upon a time", "--temperature", "0", "--steps", "40");
        assertEquals(0, r.status, r.err);
        String expected = new String(Files.readAllBytes(Path.of(shared("reference/stories260K-greedy-prefix.txt"))), "UTF-8");
        // the reference greedy story starts with this prompt, so the greedy continuation is its prefix
        assertTrue(expected.startsWith(r.out.strip()), r.out);
        assertTrue(r.out.strip().length() > "Once upon a time".length() + 20, r.out);
        MainTest.Result sampled = MainTest.run("generate", "--model", model, "--tokenizer", tok, "--temperature", "0.8", "--top-p", "0.9", "--seed", "7", "--steps", "60");
        assertEquals(sampled.out, MainTest.run("generate", "--model", model, "--tokenizer", tok, "--temperature", "0.8", "--top-p", "0.9", "--seed", "7", "--steps", "60").out);
    }

    @Test
    void missingModelIsAnError() {
        MainTest.Result r = MainTest.run("eval", "--model", "/nonexistent/model.bin", "--tokenizer", "x", "--text", "y");
        assertEquals(1, r.status);
        assertTrue(r.err.contains("/nonexistent/model.bin"), r.err);
        assertEquals(2, MainTest.run("eval", "--model").status);
    }
}
