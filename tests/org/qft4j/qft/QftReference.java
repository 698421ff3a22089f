package org.qft4j.qft;

/**
 * An independent Java statement of QFT's element rules (int8_blocks.h, hybrid_weight.h, lion_step.h), used to
 * check the native code bit for bit. Java float arithmetic is IEEE single precision without FMA, like the
 * native references.
 */
final class QftReference {
    private QftReference() {}

    static long mix64(long z) {
        z += 0x9e3779b97f4a7c15L;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    static long stream(long seed, long step, long tensor) {
        return mix64(mix64(mix64(seed) ^ step) ^ (tensor * 0xd1b54a32d192ed03L));
    }

    static long bits(long stream, long index) {
        return mix64(stream ^ (index * 0x9e3779b97f4a7c15L));
    }

    static float scale(float absmax) {
        return absmax > 0 ? absmax / 127f : 1f;
    }

    static int clamp(int q) {
        return Math.max(-127, Math.min(127, q));
    }

    static int nearest(float x, float s) {
        return clamp((int) Math.rint(x / s));
    }

    static int stochastic(float x, float s, long bits) {
        float v = x / s;
        float fl = (float) Math.floor(v);
        float frac = v - fl;
        float u = (float) (bits >>> 40) * (1f / 16777216f);
        return clamp((int) fl + (u < frac ? 1 : 0));
    }

    static int signKept(float x, float s) {
        int q = nearest(x, s);
        return q == 0 && x != 0 ? (x > 0 ? 1 : -1) : q;
    }

    /** Row-blocked INT8 quantization of x (rows, cols) into q and scales (rows, ceil(cols/block)). */
    static void quantizeBlocks(float[] x, int rows, int cols, int block, boolean keepSign, byte[] q, float[] scales) {
        int nb = (cols + block - 1) / block;
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < nb; b++) {
                int c0 = b * block, c1 = Math.min(cols, c0 + block);
                float max = 0;
                for (int c = c0; c < c1; c++) max = Math.max(max, Math.abs(x[r * cols + c]));
                float s = scale(max);
                scales[r * nb + b] = s;
                for (int c = c0; c < c1; c++) q[r * cols + c] = (byte) (keepSign ? signKept(x[r * cols + c], s) : nearest(x[r * cols + c], s));
            }
    }

    /** State of one tensor of the quantized Lion step, as plain arrays. */
    static final class LionState {
        final int rows, cols, gBlock, mBlock;
        byte[] w, g, m;           // (rows, cols) codes
        float[] ws, gs, ms;       // scales
        int[] rowPtr, colIdx;
        float[] values;

        LionState(HybridWeight hw, Int8Blocks grad, Int8Blocks mom) {
            rows = hw.rows();
            cols = hw.cols();
            gBlock = grad.block();
            mBlock = mom.block();
            w = hw.codes().toBytes();
            ws = hw.scales().toFloats();
            rowPtr = hw.rowPtr().toInts();
            colIdx = hw.colIdx().toInts();
            values = hw.values().toFloats();
            g = grad.codes().toBytes();
            gs = grad.scales().toFloats();
            m = mom.codes().toBytes();
            ms = mom.scales().toFloats();
        }
    }

    /** One quantized Lion step on s (lion_step.h), in place. */
    static void lionStep(LionState s, LionConfig cfg, long step, long tensorId) {
        float omb1 = 1f - cfg.beta1(), omb2 = 1f - cfg.beta2(), decay = 1f - cfg.lr() * cfg.weightDecay();
        int gnb = (s.cols + s.gBlock - 1) / s.gBlock, mnb = (s.cols + s.mBlock - 1) / s.mBlock;
        boolean weyl = cfg.rounding() == Rounding.STOCHASTIC_WEYL;
        // STOCHASTIC_WEYL: one stream for all steps (key step = ~0), advanced by the step times 2^64/phi.
        long st = weyl ? stream(cfg.seed(), -1L, tensorId) : stream(cfg.seed(), step, tensorId);
        long offset = weyl ? step * 0x9e3779b97f4a7c15L : 0L;
        for (int r = 0; r < s.rows; r++) {
            float[] wn = new float[s.cols], mn = new float[s.cols];
            boolean[] out = new boolean[s.cols];
            for (int c = 0; c < s.cols; c++) wn[c] = s.w[r * s.cols + c] * s.ws[r];
            for (int j = s.rowPtr[r]; j < s.rowPtr[r + 1]; j++) {
                out[s.colIdx[j]] = true;
                wn[s.colIdx[j]] = s.values[j];
            }
            for (int c = 0; c < s.cols; c++) {
                float g = s.g[r * s.cols + c] * s.gs[r * gnb + c / s.gBlock];
                float m = s.m[r * s.cols + c] * s.ms[r * mnb + c / s.mBlock];
                float cc = cfg.beta1() * m + omb1 * g;
                float sign = cc > 0 ? 1f : cc < 0 ? -1f : 0f;
                wn[c] = wn[c] * decay + -(cfg.lr() * sign);
                mn[c] = cfg.beta2() * m + omb2 * g;
            }
            float max = 0;
            for (int c = 0; c < s.cols; c++) if (!out[c]) max = Math.max(max, Math.abs(wn[c]));
            float sc = scale(max);
            s.ws[r] = sc;
            for (int c = 0; c < s.cols; c++) {
                long idx = (long) r * s.cols + c;
                s.w[r * s.cols + c] = out[c] ? 0 : (byte) (cfg.rounding().stochastic()
                        ? stochastic(wn[c], sc, bits(st, idx) + offset) : nearest(wn[c], sc));
            }
            for (int j = s.rowPtr[r]; j < s.rowPtr[r + 1]; j++) s.values[j] = wn[s.colIdx[j]];
            for (int b = 0; b < mnb; b++) {
                int c0 = b * s.mBlock, c1 = Math.min(s.cols, c0 + s.mBlock);
                float mm = 0;
                for (int c = c0; c < c1; c++) mm = Math.max(mm, Math.abs(mn[c]));
                float msc = scale(mm);
                s.ms[r * mnb + b] = msc;
                for (int c = c0; c < c1; c++) s.m[r * s.cols + c] = (byte) signKept(mn[c], msc);
            }
        }
    }
}
