package org.qft4j.bench;

/**
 * (batch, seq) training windows over a token file, in one order that qft4j's benchmark ({@link TrainBench} --tokens)
 * and its PyTorch peer (bench/gpu-host/windows.py, used by torch_peer.py --tokens) both compute, so both train on the
 * same batches in the same order.
 *
 * <p>The formula (both files state it; a change to one must be made to the other):
 * <pre>
 *   windows  W = (n - 1) / seq            (n tokens; window w reads tokens [w*seq, w*seq + seq] : seq inputs, seq targets)
 *   slot     i = (step - 1) * batch + b   (step 1-based, row b of the batch)
 *   epoch    e = i / W,  window = perm_e[i mod W]
 *   perm_e   Fisher-Yates over [0, W): p = [0, 1, .., W-1]; for k = W-1 down to 1: j = next() mod (k + 1) (unsigned);
 *            swap p[k], p[j]
 *   next()   SplitMix64 (Steele, Lea, Flood 2014; Vigna's splitmix64.c) from state (seed * 2^32 + e) mod 2^64:
 *            state += 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9;
 *            z = (z ^ (z >>> 27)) * 0x94D049BB133111EB; return z ^ (z >>> 31)      (all mod 2^64)
 * </pre>
 * The modulo draw is biased by at most W / 2^64: nothing a training run can see, and trivially the same on both sides.
 * Validation windows are the first {@code count} windows of the validation file in file order (no shuffle).
 */
public final class TokenWindows {
    private final int[] tokens;  // (n) token ids
    private final int seq;
    private final long seed;
    private final int windows;   // W
    private int epoch = -1;
    private int[] order;         // perm of the current epoch

    public TokenWindows(int[] tokens, int seq, long seed) {
        if (seq <= 0) throw new IllegalArgumentException("TokenWindows: seq must be positive, got " + seq);
        if (tokens.length < seq + 1)
            throw new IllegalArgumentException("TokenWindows: " + tokens.length + " tokens hold no window of seq + 1 = " + (seq + 1) + " tokens");
        this.tokens = tokens;
        this.seq = seq;
        this.seed = seed;
        this.windows = (tokens.length - 1) / seq;
    }

    /** W: windows in one epoch. */
    public int windows() { return windows; }

    /** The window that slot i = (step - 1) * batch + b reads. */
    public int window(long slot) {
        if (slot < 0) throw new IllegalArgumentException("TokenWindows: slot must be >= 0, got " + slot);
        int e = Math.toIntExact(slot / windows);
        if (e != epoch) {
            order = permutation(windows, seed, e);
            epoch = e;
        }
        return order[(int) (slot % windows)];
    }

    /** Inputs and targets (batch, seq) row-major of 1-based step {@code step}. */
    public int[][] batch(int step, int batch) {
        if (step < 1 || batch < 1) throw new IllegalArgumentException("TokenWindows: step and batch must be >= 1, got step " + step + ", batch " + batch);
        int[] inputs = new int[batch * seq], targets = new int[batch * seq];
        for (int b = 0; b < batch; b++) copyWindow(window((long) (step - 1) * batch + b), inputs, targets, b);
        return new int[][] {inputs, targets};
    }

    /** Inputs and targets (count, seq) of the first count windows in file order: the held-out set. */
    public int[][] firstWindows(int count) {
        if (count < 1 || count > windows)
            throw new IllegalArgumentException("TokenWindows: " + count + " validation windows of seq " + seq + " requested, the file holds " + windows);
        int[] inputs = new int[count * seq], targets = new int[count * seq];
        for (int w = 0; w < count; w++) copyWindow(w, inputs, targets, w);
        return new int[][] {inputs, targets};
    }

    private void copyWindow(int w, int[] inputs, int[] targets, int row) {
        System.arraycopy(tokens, w * seq, inputs, row * seq, seq);
        System.arraycopy(tokens, w * seq + 1, targets, row * seq, seq);
    }

    /** perm_e of the class comment: Fisher-Yates over [0, n) drawing from SplitMix64 seeded (seed * 2^32 + epoch). */
    static int[] permutation(int n, long seed, int epoch) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        SplitMix64 rng = new SplitMix64((seed << 32) + epoch);
        for (int k = n - 1; k > 0; k--) {
            int j = (int) Long.remainderUnsigned(rng.next(), k + 1);
            int t = p[k];
            p[k] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** SplitMix64 as in Vigna's splitmix64.c (java.util.SplittableRandom mixes differently, so it is spelled out). */
    static final class SplitMix64 {
        private long state;

        SplitMix64(long state) { this.state = state; }

        long next() {
            long z = state += 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    @Override
    public String toString() {
        return "TokenWindows(" + tokens.length + " tokens, seq " + seq + ", " + windows + " windows, seed " + seed + ")";
    }
}
