package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.llama.Tokenizer;

class SyntheticCorpusTest {
    @Test
    void theSameSeedGivesTheSameTextAndTheDomainsDiffer() {
        List<String> a = SyntheticCorpus.documents(SyntheticCorpus.Domain.FARM, 20, 1);
        assertEquals(a, SyntheticCorpus.documents(SyntheticCorpus.Domain.FARM, 20, 1));
        assertNotEquals(a, SyntheticCorpus.documents(SyntheticCorpus.Domain.FARM, 20, 2));
        String farm = String.join(" ", a), kitchen = String.join(" ", SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 20, 1));
        assertTrue(farm.contains(" to the ") || farm.contains(" in the "), farm);
        assertTrue(kitchen.contains(" the "), kitchen);
        assertFalse(farm.contains("cook"));
        assertFalse(kitchen.contains("barn"));
    }

    @Test
    void theTokenizerHasOnePiecePerCharacterAndRoundTripsThroughTokenizerBin(@TempDir Path dir) throws Exception {
        Tokenizer t = SyntheticTokenizer.create();
        int first = 259, last = 259 + SyntheticTokenizer.ALPHABET.length();
        for (SyntheticCorpus.Domain d : SyntheticCorpus.Domain.values())
            for (String doc : SyntheticCorpus.documents(d, 50, 3)) {
                int[] ids = t.encode(doc, false, false);
                assertEquals(doc.length() + 1, ids.length, "one token per character plus the dummy-prefix space");
                for (int id : ids) assertTrue(id >= first && id < last, "character outside the alphabet in " + doc);
                assertEquals(" " + doc, t.decodeAll(0, ids));
            }
        Path f = dir.resolve("tokenizer.bin");
        ModelFiles.writeTokenizer(SyntheticTokenizer.pieces(), SyntheticTokenizer.scores(), f);
        Tokenizer back = Tokenizer.load(f);
        assertEquals(t.vocabSize(), back.vocabSize());
        assertEquals(java.util.Arrays.toString(t.encode("the cat.", true, true)), java.util.Arrays.toString(back.encode("the cat.", true, true)));
    }
}
