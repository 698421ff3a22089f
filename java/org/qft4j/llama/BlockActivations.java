package org.qft4j.llama;

/** What one transformer block keeps from forward for its backward, for n = B*T tokens. */
final class BlockActivations {
    final float[] xn1, rstd1;  // (n, C), (n): attention RMSNorm output and its 1/rms
    final float[] q, k, v;     // (n, C), (n, KV), (n, KV): projections, q and k after RoPE
    final float[] att;         // (B, nHeads, T, T): softmax probabilities
    final float[] ao;          // (n, C): attention output before wo
    final float[] x2;          // (n, C): residual after attention
    final float[] xn2, rstd2;  // (n, C), (n): FFN RMSNorm output and its 1/rms
    final float[] h1, h3, g;   // (n, H): w1 x, w3 x, silu(w1 x) * w3 x

    BlockActivations(LlamaConfig cfg, int batch, int T) {
        int n = batch * T, c = cfg.dim(), kv = cfg.kvDim(), h = cfg.hiddenDim();
        xn1 = new float[n * c];
        rstd1 = new float[n];
        q = new float[n * c];
        k = new float[n * kv];
        v = new float[n * kv];
        att = new float[Math.multiplyExact(batch * cfg.nHeads(), T * T)];
        ao = new float[n * c];
        x2 = new float[n * c];
        xn2 = new float[n * c];
        rstd2 = new float[n];
        h1 = new float[n * h];
        h3 = new float[n * h];
        g = new float[n * h];
    }

    long bytes() {
        long f = (long) xn1.length + rstd1.length + q.length + k.length + v.length + att.length + ao.length + x2.length
                + xn2.length + rstd2.length + h1.length + h3.length + g.length;
        return 4 * f;
    }
}
