package org.qft4j.train;

import java.util.Arrays;

/**
 * The step's gradients, last in first out. Backward completes the weights in reverse forward order and
 * pushes each gradient as it completes, so the optimizer pops them in forward order, O(1) each, with no
 * lookup. A parameter's gradient appears at most once per step: later micro-batches accumulate into the
 * entry the first one pushed (found in O(1) through the per-parameter slot), so the order is that of the
 * first micro-batch to touch each parameter. Each {@link Gradient} names its parameter: optimizers index
 * their state by it and never depend on the position.
 */
public final class GradientStack {
    private final Gradient[] stack;
    private final Gradient[] byParam;
    private int size;
    private long bytes;
    private long peakBytes;

    public GradientStack(int parameters) {
        stack = new Gradient[parameters];
        byParam = new Gradient[parameters];
    }

    public void push(Gradient g) {
        if (g.param < 0 || g.param >= byParam.length)
            throw new IllegalArgumentException("parameter " + g.param + " outside [0, " + byParam.length + ")");
        if (byParam[g.param] != null)
            throw new IllegalStateException("parameter " + g.param + " already has a gradient this step: accumulate into it");
        stack[size++] = g;
        byParam[g.param] = g;
        bytes += g.bytes();
        peakBytes = Math.max(peakBytes, bytes);
    }

    /** The gradient pushed for {@code param} this step, or null. */
    public Gradient find(int param) {
        return byParam[param];
    }

    public Gradient pop() {
        if (size == 0) throw new IllegalStateException("pop from an empty gradient stack");
        Gradient g = stack[--size];
        stack[size] = null;
        byParam[g.param] = null;
        bytes -= g.bytes();
        return g;
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    /** Gradients on the stack, bottom (last forward) to top, for checks over the whole step. */
    Gradient get(int i) {
        return stack[i];
    }

    public void clear() {
        Arrays.fill(stack, 0, size, null);
        Arrays.fill(byParam, null);
        size = 0;
        bytes = 0;
    }

    public long bytes() {
        return bytes;
    }

    /** The most bytes held at once since construction. */
    public long peakBytes() {
        return peakBytes;
    }
}
