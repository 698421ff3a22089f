package org.qft4j.checkpoint;

import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.util.Arrays;

/** A growable in-memory {@link SeekableByteChannel}, to write checkpoints into byte arrays in tests. */
final class MemoryChannel implements SeekableByteChannel {
    private byte[] data = new byte[256];
    private int size;
    private int position;

    @Override
    public int write(ByteBuffer src) {
        int n = src.remaining();
        int end = Math.addExact(position, n);
        if (end > data.length) data = Arrays.copyOf(data, Math.max(end, data.length * 2));
        src.get(data, position, n);
        position = end;
        size = Math.max(size, end);
        return n;
    }

    @Override
    public int read(ByteBuffer dst) {
        if (position >= size) return -1;
        int n = Math.min(dst.remaining(), size - position);
        dst.put(data, position, n);
        position += n;
        return n;
    }

    @Override
    public long position() { return position; }

    @Override
    public SeekableByteChannel position(long p) {
        position = Math.toIntExact(p);
        return this;
    }

    @Override
    public long size() { return size; }

    @Override
    public SeekableByteChannel truncate(long s) {
        size = Math.min(size, Math.toIntExact(s));
        position = Math.min(position, size);
        return this;
    }

    @Override
    public boolean isOpen() { return true; }

    @Override
    public void close() {}

    byte[] toByteArray() {
        return Arrays.copyOf(data, size);
    }
}
