package org.qft4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Deals training sequences in micro-batches, epoch after epoch, each epoch in a fresh order drawn from
 * (seed, epoch): the same seed gives the same batches on any machine, and resuming at a step replays them.
 */
public final class BatchSampler {
    private final List<Sequence> data;
    private final long seed;
    private int epoch;
    private int[] order;
    private int next;

    public BatchSampler(List<Sequence> data, long seed) {
        if (data.isEmpty()) throw new IllegalArgumentException("no training sequences to sample");
        this.data = List.copyOf(data);
        this.seed = seed;
        this.order = orderOf(0);
    }

    public List<Sequence> next(int size) {
        List<Sequence> batch = new ArrayList<>(size);
        while (batch.size() < size) {
            if (next == order.length) {
                epoch++;
                order = orderOf(epoch);
                next = 0;
            }
            batch.add(data.get(order[next++]));
        }
        return batch;
    }

    /** Position of the next sequence in the current epoch's order. */
    public int index() {
        return next;
    }

    /** Continues from a saved position (epoch, index): the following batches are those the saved run would have drawn. */
    public void seek(int epoch, int index) {
        if (epoch < 0 || index < 0 || index > data.size())
            throw new IllegalArgumentException("loader position (epoch " + epoch + ", index " + index + ") is outside "
                    + data.size() + " sequences: the checkpoint was saved with other training data");
        this.epoch = epoch;
        this.order = orderOf(epoch);
        this.next = index;
    }

    public long seed() {
        return seed;
    }

    /** Completed passes over the data. */
    public int epoch() {
        return epoch;
    }

    private int[] orderOf(int e) {
        return TrainingData.permutation(data.size(), new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e));
    }
}
