package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The file-system operations a save is made of, as a seam: tests substitute an implementation that
 * fails after N bytes or at a chosen step to prove that no failure leaves a half-written checkpoint.
 */
interface Storage {
    /** A new, empty file for writing (an existing one of that name is truncated). */
    SeekableByteChannel create(Path file) throws IOException;

    /** Makes the channel's data durable (fsync). */
    void force(SeekableByteChannel channel) throws IOException;

    /** Renames atomically, replacing {@code to}: readers see the old file or the new one, never a mix. */
    void moveAtomic(Path from, Path to) throws IOException;

    /** Makes the directory's entries (a rename, a deletion) durable. */
    void syncDirectory(Path dir) throws IOException;

    Storage FILES = new Storage() {
        @Override
        public SeekableByteChannel create(Path file) throws IOException {
            return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        }

        @Override
        public void force(SeekableByteChannel channel) throws IOException {
            ((FileChannel) channel).force(true);
        }

        @Override
        public void moveAtomic(Path from, Path to) throws IOException {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        @Override
        public void syncDirectory(Path dir) throws IOException {
            // POSIX: fsync on a directory descriptor persists its entries; Java opens directories read-only for this.
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        }
    };
}
