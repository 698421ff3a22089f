package org.qft4j.llama;

/**
 * Which dimensions of a head RoPE rotates together. The two layouts give identical models once the
 * q/k weight rows are permuted accordingly (see {@code hf.HfLlama}).
 */
public enum RopeLayout {
    /** Meta's reference code and llama2.c: pairs (2i, 2i+1). */
    ADJACENT_PAIRS,
    /** Hugging Face transformers: pairs (i, i + headSize/2) ("rotate_half"). */
    ROTATE_HALF
}
