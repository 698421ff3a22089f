package org.qft4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Text the project makes itself, so the embedded default needs no third-party data: sentences drawn from a
 * small grammar. {@link Domain#FARM} is the "pretraining" distribution; {@link Domain#KITCHEN} the shifted one
 * the default fine-tunes on: other words, other sentence shapes, the same alphabet. The same seed gives the
 * same text.
 */
public final class SyntheticCorpus {
    private SyntheticCorpus() {}

    public enum Domain {
        FARM(new String[][] {
                {"the ", "a ", "one ", "that "},
                {"small ", "old ", "brown ", "quick ", "lazy ", "happy ", "big "},
                {"dog", "cat", "cow", "horse", "hen", "goat", "pig", "duck"},
                {" ran to ", " walked to ", " slept in ", " looked at ", " jumped over ", " hid behind "},
                {"the barn", "the field", "the river", "the fence", "the hill", "the gate", "the pond"}},
                new String[] {"then ", "later ", "at night ", "in the morning "}),
        KITCHEN(new String[][] {
                {"my ", "our ", "her ", "his "},
                {"tired ", "careful ", "young ", "patient ", "clever "},
                {"cook", "baker", "chef", "uncle", "sister"},
                {" cut the ", " baked the ", " washed the ", " stirred the ", " tasted the ", " fried the "},
                {"bread", "soup", "apples", "onions", "fish", "rice", "cake", "beans"}},
                new String[] {"with a knife", "with a spoon", "in a pan", "in the oven", "for dinner", "for lunch"});

        final String[][] slots;
        final String[] tails;

        Domain(String[][] slots, String[] tails) {
            this.slots = slots;
            this.tails = tails;
        }
    }

    /** One sentence: FARM "the quick dog ran to the barn." (sometimes led by a time phrase); KITCHEN "my young cook cut the bread with a knife." */
    static String sentence(Domain d, SplittableRandom rng) {
        StringBuilder b = new StringBuilder();
        if (d == Domain.FARM && rng.nextInt(3) == 0) b.append(pick(d.tails, rng));
        for (String[] slot : d.slots) b.append(pick(slot, rng));
        if (d == Domain.KITCHEN) b.append(' ').append(pick(d.tails, rng));
        return b.append('.').toString();
    }

    /** {@code documents} paragraphs of 3..8 sentences each. */
    public static List<String> documents(Domain d, int documents, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<String> out = new ArrayList<>(documents);
        for (int i = 0; i < documents; i++) {
            int n = 3 + rng.nextInt(6);
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < n; k++) b.append(k == 0 ? "" : " ").append(sentence(d, rng));
            out.add(b.toString());
        }
        return out;
    }

    private static String pick(String[] options, SplittableRandom rng) {
        return options[rng.nextInt(options.length)];
    }
}
