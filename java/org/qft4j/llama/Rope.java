package org.qft4j.llama;

/** Rotary position embedding tables and the rotation of q/k heads, in either pair layout. */
final class Rope {
    private final int headSize, half;
    private final RopeLayout layout;
    private final float[] cos, sin; // (seqLen, headSize/2)

    Rope(LlamaConfig cfg) {
        headSize = cfg.headSize();
        half = headSize / 2;
        layout = cfg.ropeLayout();
        cos = new float[cfg.seqLen() * half];
        sin = new float[cfg.seqLen() * half];
        for (int pos = 0; pos < cfg.seqLen(); pos++)
            for (int i = 0; i < half; i++) {
                // float arithmetic as in llama2.c: freq = 1 / theta^(2i / head_size), angle = pos * freq
                float freq = 1.0f / (float) Math.pow(cfg.ropeTheta(), (2 * i) / (float) headSize);
                float val = pos * freq;
                cos[pos * half + i] = (float) Math.cos(val);
                sin[pos * half + i] = (float) Math.sin(val);
            }
    }

    /**
     * Rotates heads consecutive heads of v starting at off by the angles of position pos; inverse rotates back
     * (the backward of the forward rotation, since rotations are orthogonal).
     */
    void rotate(float[] v, int off, int heads, int pos, boolean inverse) {
        int tab = pos * half;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headSize;
            for (int i = 0; i < half; i++) {
                float fc = cos[tab + i], fs = inverse ? -sin[tab + i] : sin[tab + i];
                int a = layout == RopeLayout.ADJACENT_PAIRS ? base + 2 * i : base + i;
                int b = layout == RopeLayout.ADJACENT_PAIRS ? a + 1 : a + half;
                float v0 = v[a], v1 = v[b];
                v[a] = v0 * fc - v1 * fs;
                v[b] = v0 * fs + v1 * fc;
            }
        }
    }
}
