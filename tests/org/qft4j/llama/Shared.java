package org.qft4j.llama;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Paths into ../shared; tests that need it skip when it is absent. */
final class Shared {
    private Shared() {}

    static Path require(String relative) {
        String root = System.getProperty("qft4j.shared");
        assumeTrue(root != null, "qft4j.shared is not set");
        Path p = Path.of(root, relative);
        assumeTrue(Files.exists(p), p + " is absent");
        return p;
    }

    static final String MODEL = "models/stories260K/stories260K.bin";
    static final String MODEL_Q8 = "models/stories260K/stories260K_q8.bin";
    static final String TOKENIZER = "models/stories260K/tok512.bin";
    static final String FOX = "One day, a clever fox found a shiny key under the old oak tree.";
    static final int[] FOX_IDS = {1, 385, 328, 432, 261, 280, 305, 330, 272, 414, 444, 272, 277, 264, 261, 262, 415, 271, 422, 410, 354, 422, 318, 264, 285, 265, 334, 341, 334, 412, 433, 259, 276, 411, 426};
}
