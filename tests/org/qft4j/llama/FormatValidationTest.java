package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Broken llama2.c files are refused with an error that names the problem. */
class FormatValidationTest {
    @TempDir Path dir;

    private String failure(byte[] bytes) throws IOException {
        Path p = dir.resolve("m.bin");
        Files.write(p, bytes);
        return assertThrows(CheckpointFormatException.class, () -> Llama2cFormat.load(p)).getMessage();
    }

    @Test
    void truncatedAndTrailingV0() throws Exception {
        byte[] good = Files.readAllBytes(Shared.require(Shared.MODEL));
        assertTrue(failure(Arrays.copyOf(good, good.length - 4)).contains("truncated"));
        assertTrue(failure(Arrays.copyOf(good, good.length + 4)).contains("trailing"));
        assertTrue(failure(Arrays.copyOf(good, 12)).contains("truncated"));
    }

    @Test
    void badHeaderAndVersion() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(64).putInt(172).putInt(5).putInt(7).putInt(4).putInt(512).putInt(512); // 64 does not split into 7 heads
        assertTrue(failure(b.array()).contains("bad header"));
        ByteBuffer v1 = ByteBuffer.allocate(300).order(ByteOrder.LITTLE_ENDIAN).putInt(Llama2cFormat.MAGIC).putInt(1);
        assertTrue(failure(v1.array()).contains("version 1"));
        byte[] q8 = Files.readAllBytes(Shared.require(Shared.MODEL_Q8));
        assertTrue(failure(Arrays.copyOf(q8, q8.length - 1)).contains("truncated"));
        ByteBuffer gs = ByteBuffer.wrap(q8.clone()).order(ByteOrder.LITTLE_ENDIAN);
        gs.putInt(37, 3);
        assertTrue(failure(gs.array()).contains("group size 3"));
    }

    @Test
    void truncatedTokenizer() throws Exception {
        byte[] good = Files.readAllBytes(Shared.require(Shared.TOKENIZER));
        Path p = dir.resolve("t.bin");
        Files.write(p, Arrays.copyOf(good, good.length - 3));
        assertThrows(CheckpointFormatException.class, () -> Tokenizer.load(p));
    }
}
