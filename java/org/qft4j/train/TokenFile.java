package org.qft4j.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A pre-tokenized corpus: raw little-endian int32 token ids, nothing else, so that qft4j's GPU benchmark and its
 * PyTorch peer ({@code bench/gpu-host/torch_peer.py --tokens}, {@code torch.from_file(..., dtype=torch.int32)})
 * train on the identical token stream. Written by {@code java -jar qft4j.jar tokenize}.
 */
public final class TokenFile {
    private TokenFile() {}

    /**
     * Tokenizes text files (folders: their .txt files, sorted) for a byte-level BPE such as GPT-2's, which spells
     * whitespace itself: every document is {@code bos} followed by its paragraphs, each encoded with the blank line
     * that ends it, so that decoding the stream gives back the text with paragraphs intact.
     */
    public static int[] tokenize(List<Path> paths, TokenEncoder encoder) {
        List<String> documents = new ArrayList<>();
        for (Path p : TrainingData.expand(paths)) {
            if (p.toString().endsWith(".jsonl")) throw new IllegalArgumentException("tokenize reads plain text, and " + p + " is JSONL");
            documents.add(TrainingData.read(p));
        }
        if (documents.isEmpty()) throw new IllegalArgumentException("no text files in " + paths);
        int[] stream = new int[1 << 16];
        int n = 0;
        for (String doc : documents) {
            List<int[]> encoded = TrainingData.paragraphs(doc).parallelStream().map(para -> encoder.encode(para + "\n\n")).toList();
            long need = n + 1L + encoded.stream().mapToLong(ids -> ids.length).sum();
            if (need > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("corpus " + paths + " holds more than 2^31 tokens");
            if (need > stream.length) stream = Arrays.copyOf(stream, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(need, 2L * stream.length)));
            stream[n++] = encoder.bos();
            for (int[] ids : encoded) {
                System.arraycopy(ids, 0, stream, n, ids.length);
                n += ids.length;
            }
        }
        return Arrays.copyOf(stream, n);
    }

    /** Writes tokens atomically: a temporary file beside {@code file}, forced to disk, then renamed over it. */
    public static void write(Path file, int[] tokens) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (int t : tokens) {
                    if (!b.hasRemaining()) writeFully(ch, b);
                    b.putInt(t);
                }
                writeFully(ch, b);
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reads a token file, checking that it is whole int32s and that every id is inside [0, vocabSize). */
    public static int[] read(Path file, int vocabSize) throws IOException {
        long size = Files.size(file);
        if (size == 0) throw new IllegalArgumentException(file + " is empty: no tokens");
        if (size % 4 != 0) throw new IllegalArgumentException(file + " is " + size + " bytes, not a whole number of int32 tokens: truncated, or not a token file");
        if (size / 4 > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(file + " holds " + size / 4 + " tokens, more than 2^31");
        int[] tokens = new int[(int) (size / 4)];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < tokens.length; ) {
                b.clear().limit((int) Math.min(b.capacity(), 4L * (tokens.length - i)));
                while (b.hasRemaining())
                    if (ch.read(b) < 0) throw new IOException(file + " ended after " + i + " of " + tokens.length + " tokens: it changed while being read");
                b.flip();
                while (b.hasRemaining()) {
                    int t = b.getInt();
                    if (t < 0 || t >= vocabSize)
                        throw new IllegalArgumentException(file + ": token " + t + " at index " + i + " is outside the vocabulary [0, " + vocabSize + ")");
                    tokens[i++] = t;
                }
            }
        }
        return tokens;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        b.flip();
        while (b.hasRemaining()) ch.write(b);
        b.clear();
    }
}
