package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qft4j.Device;
import org.qft4j.Qft4jException;

class PackedWeightTest {
    /** bits, rows, cols, group size (0 = per-channel): full groups, a partial last group, K not a multiple of the group. */
    @ParameterizedTest
    @CsvSource({"4, 5, 256, 64", "4, 7, 300, 128", "4, 3, 515, 0", "4, 2, 100, 256", "4, 4, 257, 256",
                "3, 5, 256, 64", "3, 7, 300, 128", "3, 3, 515, 0", "3, 6, 129, 64", "3, 2, 33, 10", "3, 1, 7, 3"})
    void packingMatchesTheReferenceQuantizer(int bits, int rows, int cols, int groupSize) {
        float[] w = PeqaReference.gaussian(rows * cols, bits * 1000L + cols, 0.02);
        w[1] = 0.2f; // an outlier stretches one group's range
        PeqaReference ref = new PeqaReference(w, rows, cols, bits, groupSize);
        try (PackedWeight p = PackedWeight.fromFloats(w, rows, cols, bits, groupSize)) {
            assertEquals(ref.group, p.groupSize());
            assertEquals(ref.groups, p.groups());
            assertEquals((cols + 32 / bits - 1) / (32 / bits), p.wordsPerRow());
            int[] words = p.codes();
            assertArrayEquals(ref.q, PeqaReference.unpack(words, rows, cols, bits));
            assertArrayEquals(ref.scales, p.scales());
            byte[] z = p.zeros();
            for (int i = 0; i < z.length; i++) assertEquals(ref.zeros[i], z[i], "zero-point " + i);
            assertPaddingIsZero(words, rows, cols, bits);
            assertArrayEquals(ref.dequantize(ref.scales), p.dequantize());
            assertEquals(4L * rows * p.wordsPerRow() + 5L * rows * p.groups(), p.bytes());
        }
    }

    private static void assertPaddingIsZero(int[] words, int rows, int cols, int bits) {
        int cpw = 32 / bits, wpr = (cols + cpw - 1) / cpw;
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < wpr; i++) {
                int used = Math.min(cpw, cols - i * cpw) * bits;
                int unused = used == 32 ? 0 : words[r * wpr + i] >>> used;
                assertEquals(0, unused, "padding bits of row " + r + " word " + i);
            }
    }

    @ParameterizedTest
    @CsvSource({"4, 64", "4, 0", "3, 64", "3, 0"})
    void reconstructionErrorIsAtMostOneStep(int bits, int groupSize) {
        int rows = 16, cols = 200;
        float[] w = PeqaReference.gaussian(rows * cols, 7, 1.0);
        try (PackedWeight p = PackedWeight.fromFloats(w, rows, cols, bits, groupSize)) {
            float[] d = p.dequantize(), s = p.scales();
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    float step = s[r * p.groups() + c / p.groupSize()];
                    assertTrue(Math.abs(d[r * cols + c] - w[r * cols + c]) <= step * 1.0001f, "error at " + r + "," + c);
                }
        }
    }

    @Test
    void constantAndZeroGroupsAreExact() {
        float[] w = {0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -3, -3, -3, -3};
        for (int bits : new int[] {3, 4})
            try (PackedWeight p = PackedWeight.fromFloats(w, 3, 4, bits, 0)) {
                assertArrayEquals(w, p.dequantize(), 1e-6f);
            }
    }

    @Test
    void partsRoundTripThroughOfAndAFile(@TempDir Path dir) throws Exception {
        float[] w = PeqaReference.gaussian(9 * 130, 3, 0.1);
        try (PackedWeight a = PackedWeight.fromFloats(w, 9, 130, 3, 64);
             PackedWeight b = PackedWeight.of(Device.CPU, 9, 130, 3, 64, a.codes(), a.scales(), a.zeros())) {
            assertArrayEquals(a.dequantize(), b.dequantize());
            Path f = dir.resolve("m.peqa");
            float[] norm = {1, 2, 3};
            PeqaFile.write(f, Map.of("bits", "3"), Map.of("layers.0.wq", a), Map.of("norm", new PeqaFile.Dense(1, 3, norm)));
            assertEquals(8 + (4 + 7) + 4 + (4 + 11 + 4 + 16 + a.bytes()) + (4 + 4 + 4 + 8 + 12), Files.size(f));
            try (PeqaFile.Contents c = PeqaFile.read(f, Device.CPU)) {
                PackedWeight back = c.packed().get("layers.0.wq");
                assertArrayEquals(a.codes(), back.codes());
                assertArrayEquals(a.scales(), back.scales());
                assertArrayEquals(a.zeros(), back.zeros());
                assertArrayEquals(norm, c.dense().get("norm").values());
                assertEquals(Map.of("bits", "3"), c.metadata());
            }
        }
    }

    @Test
    void badInputIsRejectedWithTheShape() {
        float[] w = new float[4 * 8];
        w[2 * 8 + 3] = Float.NaN;
        Qft4jException e = assertThrows(Qft4jException.class, () -> PackedWeight.fromFloats(w, 4, 8, 4, 0));
        assertTrue(e.getMessage().contains("row 2 of W (4, 8) holds NaN/Inf"), e.getMessage());
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> PackedWeight.fromFloats(w, 4, 8, 5, 0));
        assertTrue(b.getMessage().contains("bits must be 3 or 4, got 5"), b.getMessage());
        b = assertThrows(IllegalArgumentException.class, () -> PackedWeight.fromFloats(w, 4, 9, 4, 0));
        assertTrue(b.getMessage().contains("(4, 9)"), b.getMessage());
        b = assertThrows(IllegalArgumentException.class,
                () -> PackedWeight.of(Device.CPU, 1, 8, 3, 0, new int[1], new float[1], new byte[] {8}));
        assertTrue(b.getMessage().contains("zero-point 8 outside [0, 7]"), b.getMessage());
    }
}
