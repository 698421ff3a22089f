package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A deterministic sweep over corruptions of a real checkpoint, run in every build (the Jazzer test
 * only replays its corpus there): every single-bit flip, every truncation, and seeded random edits of
 * header bytes and of the header length. Each must load or fail with {@link CheckpointException}.
 */
class MutationSweepTest {
    private static final String JSON_CHARS = "{}[]\",:0123456789-eE.\\u ";
    private final byte[] valid = TestCheckpoints.validCheckpoint();

    @Test
    void everySingleBitFlipIsCaught() {
        int accepted = 0;
        for (int i = 0; i < valid.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] b = valid.clone();
                b[i] ^= 1 << bit;
                if (loads(b, "bit " + bit + " of byte " + i)) accepted++;
            }
        }
        // The checksum covers the whole file, header and metadata included, so nothing may pass.
        assertEquals(0, accepted, "bit flips that were not detected");
    }

    @Test
    void everyTruncationIsCaught() {
        for (int n = 0; n < valid.length; n++) {
            if (loads(Arrays.copyOf(valid, n), "cut to " + n + " bytes")) fail("a file cut to " + n + " of " + valid.length + " bytes loaded");
        }
    }

    @Test
    void randomHeaderEditsAndLengthsOnlyEverThrowCheckpointException() {
        Random random = new Random(8);
        int headerEnd = 8 + (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
        for (int k = 0; k < 20_000; k++) {
            byte[] b = valid.clone();
            int edits = 1 + random.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int at = random.nextInt(headerEnd);
                switch (random.nextInt(4)) {
                    case 0: b[at] = (byte) random.nextInt(256); break;
                    case 1: b[at] = (byte) JSON_CHARS.charAt(random.nextInt(JSON_CHARS.length())); break;
                    case 2: b[at] = (byte) (0x80 | random.nextInt(128)); break; // UTF-8 continuation / lead bytes
                    default: ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, random.nextLong() >>> random.nextInt(64));
                }
            }
            loads(b, "edit " + k);
        }
    }

    /** True when the bytes load; false on CheckpointException; any other throwable fails the test. */
    private static boolean loads(byte[] b, String what) {
        try {
            Checkpoint.load(ByteBuffer.wrap(b), CheckpointSchema.ANY);
            return true;
        } catch (CheckpointException expected) {
            return false;
        } catch (Throwable t) {
            throw new AssertionError(what + ": " + t, t);
        }
    }
}
