package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

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
    void everyCharacterIsInTheTokenizersAlphabet() {
        CharTokenizer t = new CharTokenizer();
        for (SyntheticCorpus.Domain d : SyntheticCorpus.Domain.values())
            for (String doc : SyntheticCorpus.documents(d, 50, 3))
                for (int id : t.encode(doc)) assertTrue(id >= 3 && id < t.vocabSize(), "unknown character in " + doc);
        assertEquals(0, t.encode("@")[0]);
        assertEquals("a", t.decode(t.encode("A")[0]));
    }
}
