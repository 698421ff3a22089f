package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;

/**
 * Real files, with one injected failure: a write that fails once {@code failAfterBytes} bytes went
 * through (a full disk; the bytes before it do reach the file), or a failing fsync, rename or
 * directory sync.
 */
final class FaultyStorage implements Storage {
    enum Stage { NONE, WRITE, FORCE, MOVE, SYNC_DIRECTORY }

    private final Stage stage;
    private final long failAfterBytes;

    private FaultyStorage(Stage stage, long failAfterBytes) {
        this.stage = stage;
        this.failAfterBytes = failAfterBytes;
    }

    static FaultyStorage diskFullAfter(long bytes) {
        return new FaultyStorage(Stage.WRITE, bytes);
    }

    static FaultyStorage failing(Stage stage) {
        return new FaultyStorage(stage, -1);
    }

    @Override
    public SeekableByteChannel create(Path file) throws IOException {
        SeekableByteChannel real = FILES.create(file);
        if (stage != Stage.WRITE) return real;
        return new SeekableByteChannel() {
            long written;

            @Override
            public int write(ByteBuffer src) throws IOException {
                long room = failAfterBytes - written;
                if (room <= 0) throw new IOException("No space left on device");
                if (src.remaining() > room) {
                    ByteBuffer part = src.duplicate();
                    part.limit(part.position() + (int) room);
                    int n = real.write(part);
                    src.position(src.position() + n);
                    written += n;
                    return n;
                }
                int n = real.write(src);
                written += n;
                return n;
            }

            @Override public int read(ByteBuffer dst) throws IOException { return real.read(dst); }
            @Override public long position() throws IOException { return real.position(); }
            @Override public SeekableByteChannel position(long p) throws IOException { real.position(p); return this; }
            @Override public long size() throws IOException { return real.size(); }
            @Override public SeekableByteChannel truncate(long s) throws IOException { real.truncate(s); return this; }
            @Override public boolean isOpen() { return real.isOpen(); }
            @Override public void close() throws IOException { real.close(); }
        };
    }

    @Override
    public void force(SeekableByteChannel channel) throws IOException {
        if (stage == Stage.FORCE) throw new IOException("Input/output error (fsync)");
        if (stage != Stage.WRITE) FILES.force(channel);
    }

    @Override
    public void moveAtomic(Path from, Path to) throws IOException {
        if (stage == Stage.MOVE) throw new IOException("Read-only file system (rename)");
        FILES.moveAtomic(from, to);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
        if (stage == Stage.SYNC_DIRECTORY) throw new IOException("Input/output error (directory fsync)");
        FILES.syncDirectory(dir);
    }
}
