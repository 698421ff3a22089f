package org.qft4j.llama;

/**
 * Causal grouped-query self-attention over a batch of equal-length sequences.
 * q, dq: (B*T, nHeads*hs); k, v, dk, dv: (B*T, nKvHeads*hs); att: (B, nHeads, T, T) softmax probabilities (only s <= t
 * is written and read); out, dOut: (B*T, nHeads*hs). Query head h reads key/value head h / (nHeads/nKvHeads).
 *
 * <p>Work is split by (sequence, kv head); each task first copies its keys and values transposed, (hs, T), so that
 * every inner loop runs over positions (long, contiguous) instead of over the few dimensions of a head.
 */
final class Attention {
    private Attention() {}

    static void forward(float[] q, float[] k, float[] v, float[] att, float[] out, int batch, int T, LlamaConfig cfg) {
        int nh = cfg.nHeads(), nkv = cfg.nKvHeads(), hs = cfg.headSize(), c = cfg.dim(), group = nh / nkv;
        float scale = (float) (1.0 / Math.sqrt(hs));
        Parallel.forRange(batch * nkv, (long) group * T * T * hs, (lo, hi) -> {
            float[] kt = new float[hs * T], vt = new float[hs * T]; // (hs, T) keys and values of this kv head
            for (int bk = lo; bk < hi; bk++) {
                int b = bk / nkv, kvh = bk % nkv;
                gatherTransposed(k, b, kvh, T, cfg, kt);
                gatherTransposed(v, b, kvh, T, cfg, vt);
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                    for (int t = 0; t < T; t++) {
                        int qo = (b * T + t) * c + h * hs;
                        int row = ((b * nh + h) * T + t) * T;
                        for (int s = 0; s <= t; s++) att[row + s] = 0f;
                        for (int j = 0; j < hs; j++) Parallel.axpy(q[qo + j] * scale, kt, j * T, att, row, t + 1);
                        float max = Float.NEGATIVE_INFINITY;
                        for (int s = 0; s <= t; s++) max = Math.max(max, att[row + s]);
                        float sum = 0f;
                        for (int s = 0; s <= t; s++) {
                            float e = (float) Math.exp(att[row + s] - max);
                            att[row + s] = e;
                            sum += e;
                        }
                        float inv = 1f / sum;
                        for (int s = 0; s <= t; s++) att[row + s] *= inv;
                        for (int j = 0; j < hs; j++) out[qo + j] = Parallel.dot(att, row, vt, j * T, t + 1);
                    }
            }
        });
    }

    /** Accumulates (+=) into dq, dk, dv. One task per (sequence, kv head) owns every write to its dk/dv slice. */
    static void backward(float[] dOut, float[] q, float[] k, float[] v, float[] att, float[] dq, float[] dk, float[] dv,
                         int batch, int T, LlamaConfig cfg) {
        int nh = cfg.nHeads(), nkv = cfg.nKvHeads(), hs = cfg.headSize(), c = cfg.dim(), group = nh / nkv;
        float scale = (float) (1.0 / Math.sqrt(hs));
        Parallel.forRange(batch * nkv, 3L * group * T * T * hs, (lo, hi) -> {
            float[] kt = new float[hs * T], vt = new float[hs * T], dkt = new float[hs * T], dvt = new float[hs * T], ds = new float[T];
            for (int bk = lo; bk < hi; bk++) {
                int b = bk / nkv, kvh = bk % nkv;
                gatherTransposed(k, b, kvh, T, cfg, kt);
                gatherTransposed(v, b, kvh, T, cfg, vt);
                java.util.Arrays.fill(dkt, 0f);
                java.util.Arrays.fill(dvt, 0f);
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                    for (int t = 0; t < T; t++) {
                        int qo = (b * T + t) * c + h * hs;
                        int row = ((b * nh + h) * T + t) * T;
                        // d att[s] = dOut_t · v_s; dv_s += att[s] * dOut_t
                        for (int s = 0; s <= t; s++) ds[s] = 0f;
                        for (int j = 0; j < hs; j++) {
                            float g = dOut[qo + j];
                            Parallel.axpy(g, vt, j * T, ds, 0, t + 1);
                            Parallel.axpy(g, att, row, dvt, j * T, t + 1);
                        }
                        // softmax backward, then the 1/sqrt(hs) of the scores
                        float weighted = Parallel.dot(att, row, ds, 0, t + 1);
                        for (int s = 0; s <= t; s++) ds[s] = att[row + s] * (ds[s] - weighted) * scale;
                        for (int j = 0; j < hs; j++) {
                            dq[qo + j] += Parallel.dot(ds, 0, kt, j * T, t + 1);
                            Parallel.axpy(q[qo + j], ds, 0, dkt, j * T, t + 1);
                        }
                    }
                scatterTransposedAdd(dkt, b, kvh, T, cfg, dk);
                scatterTransposedAdd(dvt, b, kvh, T, cfg, dv);
            }
        });
    }

    /** dst (hs, T) = the kv head kvh of sequence b in src (B*T, KV), transposed. */
    private static void gatherTransposed(float[] src, int b, int kvh, int T, LlamaConfig cfg, float[] dst) {
        int hs = cfg.headSize(), kvDim = cfg.kvDim();
        for (int s = 0; s < T; s++) {
            int o = (b * T + s) * kvDim + kvh * hs;
            for (int j = 0; j < hs; j++) dst[j * T + s] = src[o + j];
        }
    }

    private static void scatterTransposedAdd(float[] src, int b, int kvh, int T, LlamaConfig cfg, float[] dst) {
        int hs = cfg.headSize(), kvDim = cfg.kvDim();
        for (int s = 0; s < T; s++) {
            int o = (b * T + s) * kvDim + kvh * hs;
            for (int j = 0; j < hs; j++) dst[o + j] += src[j * T + s];
        }
    }
}
