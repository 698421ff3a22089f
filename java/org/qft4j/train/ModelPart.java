package org.qft4j.train;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The parts of a LLaMA model a run can train or freeze ({@link TrainConfig#trainedParts}). A frozen part keeps its
 * starting values (fp32; under PEQA a frozen embedding stays fp32 while the block matrices are always b-bit).
 */
public enum ModelPart {
    /** The token embedding and the classifier (one matrix when tied). Under PEQA: RTN-quantized too, its scales trained. */
    EMBEDDING,
    /** The transformer blocks' matrices wq wk wv wo w1 w2 w3. Under PEQA: their scales. */
    BLOCKS,
    /** The RMSNorm weight vectors (attention, FFN and final norm). */
    NORMS;

    /** "embedding", "blocks", "norms": the CLI spelling. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a comma-separated list such as {@code "blocks,norms"}. */
    public static Set<ModelPart> parse(String list) {
        EnumSet<ModelPart> out = EnumSet.noneOf(ModelPart.class);
        for (String s : list.split(",")) {
            try {
                out.add(valueOf(s.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("model part must be embedding, blocks or norms, got '" + s + "' in '" + list + "'");
            }
        }
        return out;
    }

    /** What a run trains unless told otherwise: PEQA's recipe trains the block matrices' scales only, the others everything. */
    public static Set<ModelPart> defaults(OptimizerKind optimizer) {
        return optimizer == OptimizerKind.PEQA_ADAMW ? EnumSet.of(BLOCKS) : EnumSet.allOf(ModelPart.class);
    }
}
