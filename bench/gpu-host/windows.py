"""(batch, seq) windows over an int32 token file in the order qft4j's TrainBench --tokens takes them
(java/org/qft4j/bench/TokenWindows.java); the formula, stated in both files (change both or neither):

  windows  W = (n - 1) // seq            (n tokens; window w reads tokens [w*seq, w*seq + seq]: seq inputs, seq targets)
  slot     i = (step - 1) * batch + b    (step 1-based, row b of the batch)
  epoch    e = i // W,  window = perm_e[i % W]
  perm_e   Fisher-Yates over [0, W): p = [0, 1, .., W-1]; for k = W-1 down to 1: j = next() % (k + 1); swap p[k], p[j]
  next()   SplitMix64 (Steele, Lea, Flood 2014; Vigna's splitmix64.c) from state (seed * 2**32 + e) mod 2**64:
           state += 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
           z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31)        (all mod 2**64, unsigned)

Validation windows are the first `count` windows of the validation file, in file order.
Standard library only, so that `python3 windows.py SEED EPOCH N` prints perm_e's prefix anywhere.
"""
import sys

MASK = (1 << 64) - 1


def splitmix64(state):
    """Yields SplitMix64's outputs from `state`."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def permutation(n, seed, epoch):
    p = list(range(n))
    rng = splitmix64(((seed << 32) + epoch) & MASK)
    for k in range(n - 1, 0, -1):
        j = next(rng) % (k + 1)
        p[k], p[j] = p[j], p[k]
    return p


class Windows:
    """Slot i's window, a permutation cached per epoch as the Java side does."""

    def __init__(self, n_tokens, seq, seed):
        if seq <= 0 or n_tokens < seq + 1:
            raise ValueError(f"{n_tokens} tokens hold no window of seq + 1 = {seq + 1} tokens")
        self.seq, self.seed, self.count = seq, seed, (n_tokens - 1) // seq
        self.epoch, self.order = -1, None

    def window(self, slot):
        e = slot // self.count
        if e != self.epoch:
            self.order, self.epoch = permutation(self.count, self.seed, e), e
        return self.order[slot % self.count]

    def starts(self, step, batch):
        """Token offsets of the rows of 1-based step `step`: row b reads tokens[start : start + seq + 1]."""
        return [self.window((step - 1) * batch + b) * self.seq for b in range(batch)]


if __name__ == "__main__":
    seed, epoch, n = (int(a) for a in sys.argv[1:4])
    print(permutation(n, seed, epoch)[:20])
