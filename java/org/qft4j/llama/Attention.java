package org.qft4j.llama;

/**
 * Causal grouped-query self-attention over a batch of equal-length sequences.
 * q, dq: (B*T, nHeads*hs); k, v, dk, dv: (B*T, nKvHeads*hs); att: (B, nHeads, T, T) softmax probabilities (only s <= t
 * is written and read); out, dOut: (B*T, nHeads*hs). Query head h reads key/value head h / (nHeads/nKvHeads).
 */
final class Attention {
    private Attention() {}

    static void forward(float[] q, float[] k, float[] v, float[] att, float[] out, int batch, int T, LlamaConfig cfg) {
        int nh = cfg.nHeads(), hs = cfg.headSize(), c = cfg.dim(), kvDim = cfg.kvDim(), group = nh / cfg.nKvHeads();
        float scale = (float) (1.0 / Math.sqrt(hs));
        Parallel.forRange(batch * nh, (long) T * T * hs, (lo, hi) -> {
            for (int bh = lo; bh < hi; bh++) {
                int b = bh / nh, h = bh % nh, kvOff = (h / group) * hs;
                for (int t = 0; t < T; t++) {
                    int qo = (b * T + t) * c + h * hs;
                    int row = (bh * T + t) * T;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int s = 0; s <= t; s++) {
                        float score = Parallel.dot(q, qo, k, (b * T + s) * kvDim + kvOff, hs) * scale;
                        att[row + s] = score;
                        if (score > max) max = score;
                    }
                    float sum = 0f;
                    for (int s = 0; s <= t; s++) {
                        float e = (float) Math.exp(att[row + s] - max);
                        att[row + s] = e;
                        sum += e;
                    }
                    for (int j = 0; j < hs; j++) out[qo + j] = 0f;
                    for (int s = 0; s <= t; s++) {
                        float p = att[row + s] / sum;
                        att[row + s] = p;
                        Parallel.axpy(p, v, (b * T + s) * kvDim + kvOff, out, qo, hs);
                    }
                }
            }
        });
    }

    /**
     * Accumulates (+=) into dq, dk, dv. One task per (sequence, kv head) owns every write to its dk/dv slice, so
     * the query heads that share a kv head never race. scratch: at least batch * nKvHeads * T floats.
     */
    static void backward(float[] dOut, float[] q, float[] k, float[] v, float[] att, float[] dq, float[] dk, float[] dv,
                         int batch, int T, LlamaConfig cfg, float[] scratch) {
        int nh = cfg.nHeads(), nkv = cfg.nKvHeads(), hs = cfg.headSize(), c = cfg.dim(), kvDim = cfg.kvDim(), group = nh / nkv;
        float scale = (float) (1.0 / Math.sqrt(hs));
        Parallel.forRange(batch * nkv, (long) group * T * T * hs * 2, (lo, hi) -> {
            for (int bk = lo; bk < hi; bk++) {
                int b = bk / nkv, kvh = bk % nkv, kvOff = kvh * hs, datt = bk * T;
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                    for (int t = 0; t < T; t++) {
                        int qo = (b * T + t) * c + h * hs;
                        int row = ((b * nh + h) * T + t) * T;
                        float weighted = 0f;
                        for (int s = 0; s <= t; s++) {
                            int vo = (b * T + s) * kvDim + kvOff;
                            float p = att[row + s];
                            float d = Parallel.dot(dOut, qo, v, vo, hs);
                            scratch[datt + s] = d;
                            weighted += p * d;
                            Parallel.axpy(p, dOut, qo, dv, vo, hs);
                        }
                        for (int s = 0; s <= t; s++) {
                            int ko = (b * T + s) * kvDim + kvOff;
                            float ds = att[row + s] * (scratch[datt + s] - weighted) * scale;
                            Parallel.axpy(ds, k, ko, dq, qo, hs);
                            Parallel.axpy(ds, q, qo, dk, ko, hs);
                        }
                    }
            }
        });
    }
}
