package org.qft4j.llama;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.llama.device.DeviceOps;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.nativ.EngineNative;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Scope;
import org.qft4j.tensor.Tensor;

/** Runs each engine op on one device from host inputs and returns its outputs; shared by the CPU and GPU op tests. */
final class DeviceOpRuns {
    private DeviceOpRuns() {}

    /** {out (n, C), dtable (V, C)}: lookup, then dtable0 + the scatter-add of dout. */
    static float[][] embedding(Device d, float[] table, int vocab, int c, int[] ids, float[] dout, float[] dtable0) {
        int n = ids.length;
        try (Scope s = new Scope()) {
            Tensor tab = s.add(Tensor.of(d, table, vocab, c)), id = s.add(Tensor.of(d, ids, n));
            Tensor out = s.add(Tensor.zeros(d, DType.F32, n, c));
            DeviceOps.embeddingForward(tab, id, n, out);
            Tensor g = s.add(Tensor.of(d, dout, n, c)), dt = s.add(Tensor.of(d, dtable0, vocab, c));
            DeviceOps.embeddingBackward(g, id, n, dt);
            return new float[][] {out.toFloats(), dt.toFloats()};
        }
    }

    /** Rows [row0, row0 + rows) of the embedding gradient, built from only those rows. */
    static float[] embeddingGradientRows(Device d, float[] dout, int[] ids, int vocab, int c, int row0, int rows) {
        int n = ids.length;
        try (Scope s = new Scope()) {
            Tensor g = s.add(Tensor.of(d, dout, n, c)), id = s.add(Tensor.of(d, ids, n)), part = s.add(Tensor.zeros(d, DType.F32, rows, c));
            DeviceOps.embeddingBackwardRows(g, id, n, vocab, row0, rows, part);
            return part.toFloats();
        }
    }

    /** Rows ids of table (vocab, c) quantized to QFT's hybrid INT8 format (1% outliers) on d, looked up from its codes. */
    static float[] hybridEmbedding(Device d, float[] table, int vocab, int c, int[] ids) {
        int n = ids.length;
        try (Scope s = new Scope()) {
            HybridWeight h = s.add(HybridWeight.quantize(s.add(Tensor.of(d, table, vocab, c)), HybridConfig.DEFAULT));
            Tensor id = s.add(Tensor.of(d, ids, n)), out = s.add(Tensor.zeros(d, DType.F32, n, c));
            DeviceOps.embeddingForward(h, id, n, out);
            return out.toFloats();
        }
    }

    /** {y, rstd, dx0 + dx, dw0 + dw}. */
    static float[][] rmsnorm(Device d, float[] x, float[] w, float[] dy, float[] dx0, float[] dw0, int n, int c, float eps) {
        try (Scope s = new Scope()) {
            Tensor tx = s.add(Tensor.of(d, x, n, c)), tw = s.add(Tensor.of(d, w, c));
            Tensor y = s.add(Tensor.zeros(d, DType.F32, n, c)), rstd = s.add(Tensor.zeros(d, DType.F32, n));
            DeviceOps.rmsnormForward(tx, tw, n, eps, y, rstd);
            Tensor tdy = s.add(Tensor.of(d, dy, n, c)), dx = s.add(Tensor.of(d, dx0, n, c)), dw = s.add(Tensor.of(d, dw0, c));
            DeviceOps.rmsnormBackward(tdy, tx, tw, rstd, n, dx, dw);
            return new float[][] {y.toFloats(), rstd.toFloats(), dx.toFloats(), dw.toFloats()};
        }
    }

    /** x rotated in place (rows at positions r % T) with the tables of cfg. */
    static float[] rope(Device d, float[] x, int n, int T, int heads, LlamaConfig cfg, boolean inverse) {
        int hs = cfg.headSize();
        float[][] tables = DeviceOps.ropeTables(cfg, T);
        try (Scope s = new Scope()) {
            Tensor tx = s.add(Tensor.of(d, x, n, (long) heads * hs));
            Tensor cos = s.add(Tensor.of(d, tables[0], T, hs / 2)), sin = s.add(Tensor.of(d, tables[1], T, hs / 2));
            DeviceOps.rope(tx, n, T, heads, hs, cfg.ropeLayout(), cos, sin, inverse);
            return tx.toFloats();
        }
    }

    /** {lse (B, nh, T), out, dq, dk, dv, delta (B, nh, T)}, with the products in {@code math}. */
    static float[][] attention(Device d, float[] q, float[] k, float[] v, float[] dout, int batch, int T, int nh, int nkv, int hs,
                               Fp32Math math) {
        long n = (long) batch * T;
        try (Scope s = new Scope()) {
            Tensor tq = s.add(Tensor.of(d, q, n, (long) nh * hs)), tk = s.add(Tensor.of(d, k, n, (long) nkv * hs));
            Tensor tv = s.add(Tensor.of(d, v, n, (long) nkv * hs)), tdo = s.add(Tensor.of(d, dout, n, (long) nh * hs));
            Tensor lse = s.add(Tensor.zeros(d, DType.F32, n * nh)), out = s.add(Tensor.zeros(d, DType.F32, n, (long) nh * hs));
            DeviceOps.attentionForward(tq, tk, tv, batch, T, nh, nkv, hs, lse, out, math);
            Tensor delta = s.add(Tensor.zeros(d, DType.F32, n * nh));
            Tensor dq = s.add(Tensor.zeros(d, DType.F32, n, (long) nh * hs));
            Tensor dk = s.add(Tensor.zeros(d, DType.F32, n, (long) nkv * hs)), dv = s.add(Tensor.zeros(d, DType.F32, n, (long) nkv * hs));
            DeviceOps.attentionBackward(tdo, tq, tk, tv, out, lse, batch, T, nh, nkv, hs, delta, dq, dk, dv, math);
            return new float[][] {lse.toFloats(), out.toFloats(), dq.toFloats(), dk.toFloats(), dv.toFloats(), delta.toFloats()};
        }
    }

    /** {g, dh1, dh3}. */
    static float[][] swiglu(Device d, float[] h1, float[] h3, float[] dg) {
        int n = h1.length;
        try (Scope s = new Scope()) {
            Tensor a = s.add(Tensor.of(d, h1, n)), b = s.add(Tensor.of(d, h3, n)), g = s.add(Tensor.zeros(d, DType.F32, n));
            DeviceOps.swigluForward(a, b, n, g);
            Tensor tdg = s.add(Tensor.of(d, dg, n)), dh1 = s.add(Tensor.zeros(d, DType.F32, n)), dh3 = s.add(Tensor.zeros(d, DType.F32, n));
            DeviceOps.swigluBackward(tdg, a, b, n, dh1, dh3);
            return new float[][] {g.toFloats(), dh1.toFloats(), dh3.toFloats()};
        }
    }

    /** {dh1, dh3} of a backward that writes them over h1 and h3 (in place). */
    static float[][] swigluBackwardInPlace(Device d, float[] h1, float[] h3, float[] dg) {
        int n = h1.length;
        try (Scope s = new Scope()) {
            Tensor a = s.add(Tensor.of(d, h1, n)), b = s.add(Tensor.of(d, h3, n)), tdg = s.add(Tensor.of(d, dg, n));
            DeviceOps.swigluBackward(tdg, a, b, n, a, b);
            return new float[][] {a.toFloats(), b.toFloats()};
        }
    }

    /**
     * {losses (n), dlogits (n, V)} through the chunked cross-entropy ops (cross_entropy.h), the vocabulary in chunks of
     * chunk columns (the last one partial): pass 1 folds every chunk, finish, pass 2 turns every chunk into its gradient.
     */
    static float[][] crossEntropy(Device d, float[] logits, int[] targets, int vocab, float dscale, int chunk) {
        int n = targets.length, dev = d.nativeId();
        Natives.load(EngineNative.class);
        try (Scope s = new Scope()) {
            Tensor t = s.add(Tensor.of(d, targets, n)), max = s.add(Tensor.zeros(d, DType.F32, n)), sum = s.add(Tensor.zeros(d, DType.I64, n));
            Tensor tl = s.add(Tensor.zeros(d, DType.F32, n)), lse = s.add(Tensor.zeros(d, DType.F32, n)), losses = s.add(Tensor.zeros(d, DType.F32, n));
            NativeStatus.check(EngineNative.qft_cross_entropy_chunk_begin(dev, n, max.address(), sum.address(), tl.address()), "begin");
            for (int v0 = 0; v0 < vocab; v0 += chunk) {
                try (Tensor c = Tensor.of(d, columns(logits, n, vocab, v0, Math.min(chunk, vocab - v0)), n, Math.min(chunk, vocab - v0))) {
                    NativeStatus.check(EngineNative.qft_cross_entropy_chunk_stats(dev, c.address(), n, c.dim(1), v0, t.address(), max.address(),
                            sum.address(), tl.address()), "stats");
                }
            }
            NativeStatus.check(EngineNative.qft_cross_entropy_chunk_finish(dev, n, vocab, t.address(), max.address(), sum.address(),
                    tl.address(), lse.address(), losses.address()), "finish");
            float[] dlogits = new float[n * vocab];
            for (int v0 = 0; v0 < vocab; v0 += chunk) {
                int cols = Math.min(chunk, vocab - v0);
                try (Tensor c = Tensor.of(d, columns(logits, n, vocab, v0, cols), n, cols)) {
                    NativeStatus.check(EngineNative.qft_cross_entropy_chunk_grad(dev, c.address(), n, cols, v0, t.address(), lse.address(),
                            dscale), "grad");
                    float[] g = c.toFloats();
                    for (int r = 0; r < n; r++) System.arraycopy(g, r * cols, dlogits, r * vocab + v0, cols);
                }
            }
            return new float[][] {losses.toFloats(), dlogits};
        }
    }

    /** Columns [v0, v0 + cols) of a (n, vocab) row-major matrix, packed (n, cols). */
    private static float[] columns(float[] m, int n, int vocab, int v0, int cols) {
        float[] out = new float[n * cols];
        for (int r = 0; r < n; r++) System.arraycopy(m, r * vocab + v0, out, r * cols, cols);
        return out;
    }

    /** {y (+)= x wᵀ, dx (+)= dy w, dw (+)= dyᵀ x} from the initial y0, dx0, dw0, in the arithmetic math. */
    static float[][] matmul(Device d, float[] x, float[] w, float[] dy, float[] y0, float[] dx0, float[] dw0, int n, int out, int in,
                            boolean accumulate, Fp32Math math) {
        try (Scope s = new Scope()) {
            Tensor tx = s.add(Tensor.of(d, x, n, in)), tw = s.add(Tensor.of(d, w, out, in)), tdy = s.add(Tensor.of(d, dy, n, out));
            Tensor y = s.add(Tensor.of(d, y0, n, out)), dx = s.add(Tensor.of(d, dx0, n, in)), dw = s.add(Tensor.of(d, dw0, out, in));
            DeviceOps.linear(tx, tw, n, y, accumulate, math);
            DeviceOps.linearBackwardInput(tdy, tw, n, dx, accumulate, math);
            DeviceOps.linearBackwardWeight(tdy, tx, n, dw, accumulate, math);
            return new float[][] {y.toFloats(), dx.toFloats(), dw.toFloats()};
        }
    }

    static float[] residual(Device d, float[] y, float[] x) {
        try (Scope s = new Scope()) {
            Tensor ty = s.add(Tensor.of(d, y, y.length)), tx = s.add(Tensor.of(d, x, x.length));
            DeviceOps.residualAdd(ty, tx, y.length);
            return ty.toFloats();
        }
    }

    /** A config whose heads, head size, sequence length and rope layout drive the Java Rope and Attention classes. */
    static LlamaConfig config(int nh, int nkv, int hs, int T, RopeLayout layout) {
        return new LlamaConfig(nh * hs, 8, 1, nh, nkv, 8, T, 1e-5f, 10000f, layout, false);
    }
}
