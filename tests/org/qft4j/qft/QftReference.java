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

    static long rowKey(long stream, long row) {
        return mix64(stream ^ (row * 0x9e3779b97f4a7c15L));
    }

    static int mix32(int x) {
        x ^= x >>> 16;
        x *= 0x7feb352d;
        x ^= x >>> 15;
        x *= 0x846ca68b;
        return x ^ (x >>> 16);
    }

    /** 32 random bits of column col under a row key: one 32-bit mix per element. */
    static int bits(long rowKey, int col) {
        return mix32((int) rowKey ^ (col * 0x9e3779b9)) + (int) (rowKey >>> 32);
    }

    static float scale(float absmax) {
        return absmax > 0 ? absmax / 127f : 1f;
    }

    /** What codes are computed with: 127/absmax, not 1/scale. */
    static float inverse(float absmax) {
        return absmax > 0 ? 127f / absmax : 1f;
    }

    static float clamp(float v) {
        v = v > -127f ? v : -127f;
        return v < 127f ? v : 127f;
    }

    static int nearest(float x, float inv) {
        return (int) Math.rint(clamp(x * inv));
    }

    /** floor(x*inv + u), u in [0, 1) from the top 23 bits as the mantissa of a float in [1, 2). */
    static int stochastic(float x, float inv, int bits) {
        float u = Float.intBitsToFloat(0x3f800000 | (bits >>> 9)) - 1f;
        return (int) Math.floor(clamp(x * inv + u));
    }

    static int signKept(float x, float inv) {
        int q = nearest(x, inv);
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
                scales[r * nb + b] = scale(max);
                float inv = inverse(max);
                for (int c = c0; c < c1; c++) q[r * cols + c] = (byte) (keepSign ? signKept(x[r * cols + c], inv) : nearest(x[r * cols + c], inv));
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
        int offset = weyl ? (int) step * 0x9e3779b9 : 0;
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
            s.ws[r] = scale(max);
            float inv = inverse(max);
            long key = rowKey(st, r);
            for (int c = 0; c < s.cols; c++)
                s.w[r * s.cols + c] = out[c] ? 0 : (byte) (cfg.rounding().stochastic()
                        ? stochastic(wn[c], inv, bits(key, c) + offset) : nearest(wn[c], inv));
            for (int j = s.rowPtr[r]; j < s.rowPtr[r + 1]; j++) s.values[j] = wn[s.colIdx[j]];
            for (int b = 0; b < mnb; b++) {
                int c0 = b * s.mBlock, c1 = Math.min(s.cols, c0 + s.mBlock);
                float mm = 0;
                for (int c = c0; c < c1; c++) mm = Math.max(mm, Math.abs(mn[c]));
                s.ms[r * mnb + b] = scale(mm);
                float invM = inverse(mm);
                for (int c = c0; c < c1; c++) s.m[r * s.cols + c] = (byte) signKept(mn[c], invM);
            }
        }
    }
}
