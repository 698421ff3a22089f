package org.qft4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The window order is the documented formula (TokenWindows' class comment), which the PyTorch peer's windows.py
 * implements: checked against SplitMix64's published outputs, a permutation derived by hand from them, and prefixes
 * computed by windows.py (an independent implementation), so a change on one side alone fails here.
 */
class TokenWindowsTest {
    @Test
    void splitMix64GivesTheReferenceOutputs() {
        // Vigna's splitmix64.c from x = 0.
        TokenWindows.SplitMix64 r = new TokenWindows.SplitMix64(0);
        assertEquals(0xE220A8397B1DCDAFL, r.next());
        assertEquals(0x6E789E6AA1B965F4L, r.next());
        assertEquals(0x06C45D188009454FL, r.next());
    }

    @Test
    void permutationFollowsTheFormula() {
        // By hand, seed 0, epoch 0, n = 3: p = [0,1,2]; k = 2: j = 0xE220A8397B1DCDAF mod 3 = 1 -> [0,2,1];
        // k = 1: j = 0x6E789E6AA1B965F4 mod 2 = 0 -> [2,0,1].
        assertArrayEquals(new int[] {2, 0, 1}, TokenWindows.permutation(3, 0, 0));
        // From bench/gpu-host/windows.py: python3 windows.py SEED EPOCH N.
        assertArrayEquals(new int[] {9, 7, 4, 0, 3, 8, 2, 5, 1, 6}, TokenWindows.permutation(10, 1, 0));
        assertArrayEquals(new int[] {1, 6, 3, 2, 4, 5, 9, 8, 0, 7}, TokenWindows.permutation(10, 1, 1));
        assertArrayEquals(new int[] {732, 570, 587, 565, 846, 588, 628, 553, 780, 141, 874, 736},
                Arrays.copyOf(TokenWindows.permutation(1000, 7, 3), 12));
        assertArrayEquals(new int[] {757, 273, 1524, 1030, 1858, 874, 10, 1827}, Arrays.copyOf(TokenWindows.permutation(1950, 1, 0), 8));
    }

    @Test
    void slotsWalkEpochsAndBatchesReadTheirWindows() {
        // 88 tokens, seq 16: W = 87 / 16 = 5 windows; the 7 tokens after the last window are never read as inputs.
        int[] tokens = new int[88];
        for (int i = 0; i < tokens.length; i++) tokens[i] = 1000 + i;
        TokenWindows w = new TokenWindows(tokens, 16, 3);
        assertEquals(5, w.windows());
        int[] slots = new int[12];
        for (int i = 0; i < slots.length; i++) slots[i] = w.window(i);
        assertArrayEquals(new int[] {1, 3, 2, 4, 0, 0, 1, 4, 3, 2, 4, 1}, slots, "windows.py: Windows(88, 16, 3)");
        // Step 2 of batch 3 is slots 3, 4, 5: windows 4, 0 and (epoch 1) 0.
        int[][] b = w.batch(2, 3);
        for (int row = 0; row < 3; row++) {
            int start = new int[] {4, 0, 0}[row] * 16;
            for (int t = 0; t < 16; t++) {
                assertEquals(1000 + start + t, b[0][row * 16 + t], "input row " + row + " position " + t);
                assertEquals(1000 + start + t + 1, b[1][row * 16 + t], "target row " + row + " position " + t);
            }
        }
        int[][] v = w.firstWindows(2);
        assertEquals(1000 + 16, v[0][16]);
        assertEquals(1000 + 32, v[1][31]);
    }

    @Test
    void badSizesAreRefusedWithTheirNumbers() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TokenWindows(new int[16], 16, 1));
        assertTrue(e.getMessage().contains("16 tokens") && e.getMessage().contains("17"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TokenWindows(new int[40], 16, 1).firstWindows(3));
        assertTrue(e.getMessage().contains("3 validation windows") && e.getMessage().contains("holds 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TokenWindows(new int[40], 16, 1).batch(0, 1));
    }
}
