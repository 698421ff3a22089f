package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** The engine against the third-party numbers in shared/reference/stories260K.json (llama2.c run.c / runq.c). */
class Stories260KTest {
    private static final double REL = 1e-4;

    @Test
    void foxSentenceEncodesToReferenceIdsAndDecodesBack() throws Exception {
        Tokenizer tok = Tokenizer.load(Shared.require(Shared.TOKENIZER));
        assertArrayEquals(Shared.FOX_IDS, tok.encode(Shared.FOX, true, false));
        assertEquals(Shared.FOX, tok.decodeAll(Tokenizer.BOS, java.util.Arrays.copyOfRange(Shared.FOX_IDS, 1, Shared.FOX_IDS.length)));
    }

    @Test
    void fp32FoxPerplexity() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL));
        Perplexity.Result r = Perplexity.sequence(new LlamaModel(w, 1, 64, false), Shared.FOX_IDS);
        assertEquals(34, r.predicted());
        assertEquals(54.404121, r.nllSum(), 54.404121 * REL);
        assertEquals(4.953633, r.perplexity(), 4.953633 * REL);
    }

    @Test
    void q8FoxPerplexity() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL_Q8));
        assertTrue(w.tokenEmbedding instanceof Q8Matrix);
        Perplexity.Result r = Perplexity.sequence(new LlamaModel(w, 1, 64, false), Shared.FOX_IDS);
        assertEquals(54.310999, r.nllSum(), 54.310999 * REL);
        assertEquals(4.940084, r.perplexity(), 4.940084 * REL);
    }

    @Test
    void greedyGenerationFromBosMatchesReferencePrefix() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL));
        Tokenizer tok = Tokenizer.load(Shared.require(Shared.TOKENIZER));
        byte[] expected = Files.readAllBytes(Shared.require("reference/stories260K-greedy-prefix.txt"));
        assertEquals(464, expected.length);
        Generation.Result r = Generation.generate(new LlamaGenerator(w), tok, "", 256, new Sampler(512, 0f, 0.9f, 1));
        byte[] got = r.text().getBytes(StandardCharsets.UTF_8);
        assertTrue(got.length >= expected.length, "generated only " + got.length + " bytes: " + r.text());
        assertArrayEquals(expected, java.util.Arrays.copyOf(got, expected.length), r.text());
    }

    @Test
    void mobyDickChapterOnePerplexity() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL));
        Tokenizer tok = Tokenizer.load(Shared.require(Shared.TOKENIZER));
        String text = Files.readString(Shared.require("data/moby-dick/chapter_1.txt"));
        Perplexity.Result r = Perplexity.evaluate(w, tok, text);
        assertEquals(16, r.paragraphs());
        assertEquals(5710, r.predicted());
        assertEquals(41.400190, r.perplexity(), 41.400190 * REL);
    }

    @Test
    void kvCachedLogitsMatchBatchForward() throws Exception {
        LlamaWeights w = Llama2cFormat.load(Shared.require(Shared.MODEL));
        LlamaModel batch = new LlamaModel(w, 1, Shared.FOX_IDS.length, false);
        batch.forward(Shared.FOX_IDS, null, 1, Shared.FOX_IDS.length);
        LlamaGenerator gen = new LlamaGenerator(w);
        int v = w.config.vocabSize();
        for (int pos = 0; pos < Shared.FOX_IDS.length; pos++) {
            float[] logits = gen.forward(Shared.FOX_IDS[pos], pos);
            for (int j = 0; j < v; j++) assertEquals(batch.logits()[pos * v + j], logits[j], 1e-4f, "pos " + pos + " logit " + j);
        }
    }
}
