package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.train.SyntheticCorpus;
import org.qft4j.train.SyntheticTokenizer;

/** tokenizer.bin converted to tokenizer.json and read back through DJL's Hugging Face tokenizers. */
class HfTokenizerTest {
    @TempDir
    Path dir;

    private Path convert(Tokenizer t) throws IOException {
        Path json = dir.resolve("tokenizer.json");
        Files.writeString(json, TokenizerJson.convert(t));
        return json;
    }

    @Test
    void foxSentenceEncodesToReferenceIdsThroughTokenizerJson() throws Exception {
        Tokenizer bin = Tokenizer.load(Shared.require(Shared.TOKENIZER));
        try (HfTokenizer hf = HfTokenizer.load(convert(bin))) {
            assertEquals(512, hf.vocabSize());
            assertEquals(Tokenizer.BOS, hf.bos());
            assertEquals(Tokenizer.EOS, hf.eos());
            assertArrayEquals(Shared.FOX_IDS, hf.encode(Shared.FOX, true, false));
            int[] rest = Arrays.copyOfRange(Shared.FOX_IDS, 1, Shared.FOX_IDS.length);
            assertEquals(Shared.FOX, hf.decodeAll(Tokenizer.BOS, rest));
            for (int i = 1; i < Shared.FOX_IDS.length; i++) // piece by piece, as generate prints
                assertArrayEquals(bin.decode(Shared.FOX_IDS[i - 1], Shared.FOX_IDS[i]), hf.decode(Shared.FOX_IDS[i - 1], Shared.FOX_IDS[i]));
        }
    }

    /** Every line of the first 200 of each book (and the empty string), with and without BOS/EOS. */
    @Test
    void sameIdsAsLlama2cOnAustenAndMobyDick() throws Exception {
        Tokenizer bin = Tokenizer.load(Shared.require(Shared.TOKENIZER));
        List<String> lines = new ArrayList<>(List.of("", " ", "  two  spaces", "tab\tand newline\n", "naïve café – “quotes” 日本語 🙂"));
        for (String book : List.of("data/austen/emma.txt", "data/austen/persuasion.txt", "data/moby-dick/moby-dick.txt")) {
            List<String> all = Files.readAllLines(Shared.require(book), StandardCharsets.UTF_8);
            lines.addAll(all.subList(0, Math.min(200, all.size())));
        }
        int tokens = 0;
        try (HfTokenizer hf = HfTokenizer.load(convert(bin))) {
            for (String line : lines) {
                int[] expected = bin.encode(line, true, true);
                assertArrayEquals(expected, hf.encode(line, true, true), () -> "line '" + line + "'");
                assertArrayEquals(bin.encode(line, false, false), hf.encode(line, false, false), () -> "line '" + line + "'");
                tokens += expected.length;
            }
        }
        assertTrue(lines.size() > 600 && tokens > 10_000, lines.size() + " lines, " + tokens + " tokens");
    }

    /** Without ../shared: the synthetic tokenizer (no merges) on generated text, and a long text is not truncated. */
    @Test
    void syntheticTokenizerRoundTripsWithoutTruncation() throws Exception {
        Tokenizer bin = SyntheticTokenizer.create();
        String text = String.join(" ", SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 40, 3));
        try (HfTokenizer hf = HfTokenizer.load(convert(bin))) {
            int[] ids = hf.encode(text, true, false);
            assertTrue(ids.length > 1024, "encoded " + ids.length + " tokens");
            assertArrayEquals(bin.encode(text, true, false), ids);
            assertEquals(text, hf.decodeAll(hf.bos(), Arrays.copyOfRange(ids, 1, ids.length)));
            assertArrayEquals(bin.encode("Zebra!\n", false, false), hf.encode("Zebra!\n", false, false)); // byte fallback
        }
    }

    @Test
    void modelDirectoryWithTokenizerConfig() throws Exception {
        TokenizerJson.writeHf(SyntheticTokenizer.create(), dir.resolve("hf"), 64);
        try (TextTokenizer t = TextTokenizer.load(dir.resolve("hf"), 512)) {
            assertTrue(t instanceof HfTokenizer, t.toString());
            assertArrayEquals(new int[] {1, 259, 260, 261, 2}, t.encode("ab", true, true)); // BOS, dummy-prefix ' ', 'a', 'b', EOS
        }
    }

    @Test
    void closeIsIdempotentAndFinal() throws Exception {
        HfTokenizer hf = HfTokenizer.load(convert(SyntheticTokenizer.create()));
        hf.close();
        hf.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> hf.encode("a", false, false));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void badFilesAreFormatErrorsNamingTheFile() throws Exception {
        Path missing = dir.resolve("nope.json");
        assertTrue(assertThrows(CheckpointFormatException.class, () -> TextTokenizer.load(missing)).getMessage().contains(missing.toString()));
        assertTrue(assertThrows(CheckpointFormatException.class, () -> HfTokenizer.load(dir)).getMessage().contains("no Hugging Face tokenizer.json"));

        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"model\": {\"vocab\": {\"a\": 0,}}}");
        String m = assertThrows(CheckpointFormatException.class, () -> HfTokenizer.load(bad)).getMessage();
        assertTrue(m.contains(bad.toString()) && m.contains("malformed JSON"), m);

        Files.writeString(bad, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a x\"]}}");
        m = assertThrows(CheckpointFormatException.class, () -> HfTokenizer.load(bad)).getMessage();
        assertTrue(m.contains("Hugging Face tokenizers cannot load it"), m);

        Files.writeString(bad, "{\"model\": {\"vocab\": {\"a\": 4294967296}}}");
        m = assertThrows(CheckpointFormatException.class, () -> HfTokenizer.load(bad)).getMessage();
        assertTrue(m.contains("has id 4294967296"), m);
    }

    @Test
    void vocabularyLargerThanTheModelsIsRefused() throws Exception {
        Path json = convert(SyntheticTokenizer.create());
        String m = assertThrows(CheckpointFormatException.class, () -> TextTokenizer.load(json, 100)).getMessage();
        assertTrue(m.contains("has " + SyntheticTokenizer.create().vocabSize() + " tokens, more than the model's vocabulary of 100"), m);
    }

    @Test
    void mergesFollowScoresLikeSentencePieceExtractor() {
        byte[][] pieces = SyntheticTokenizer.pieces();
        float[] scores = SyntheticTokenizer.scores();
        pieces = Arrays.copyOf(pieces, pieces.length + 3);
        scores = Arrays.copyOf(scores, scores.length + 3);
        int n = pieces.length;
        pieces[n - 3] = "ab".getBytes(StandardCharsets.UTF_8); // lower score: merged last
        scores[n - 3] = -5;
        pieces[n - 2] = " a".getBytes(StandardCharsets.UTF_8);
        scores[n - 2] = -1;
        pieces[n - 1] = " ab".getBytes(StandardCharsets.UTF_8); // two splits: (' ', 'ab') and (' a', 'b'), same score
        scores[n - 1] = -2;
        String json = TokenizerJson.convert(new Tokenizer(pieces, scores));
        String merges = json.replaceAll("(?s).*\"merges\": \\[(.*)\\].*", "$1");
        assertEquals("\"\u2581 a\", \"\u2581 ab\", \"\u2581a b\", \"a b\"", merges.strip());
    }
}
