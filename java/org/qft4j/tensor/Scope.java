package org.qft4j.tensor;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Owns tensors for a bounded piece of work (one training step, one request) and closes them in reverse
 * order of registration. Closing is idempotent; the first failure is rethrown after all were closed.
 */
public final class Scope implements AutoCloseable {
    private final Deque<AutoCloseable> owned = new ArrayDeque<>();
    private boolean closed;

    public <T extends AutoCloseable> T add(T resource) {
        if (closed) {
            closeQuietly(resource);
            throw new IllegalStateException("scope is closed");
        }
        owned.push(resource);
        return resource;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException ? (RuntimeException) e : new RuntimeException(e);
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // the caller gets the IllegalStateException instead
        }
    }
}
