package org.qft4j.peqa;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * RTN reconstruction error of stories260K's linear weights (wq wk wv wo w1 w2 w3 of every layer; the tied
 * embedding/classifier stays fp32) at 4 and 3 bits, per-channel and group 64/128. Skipped without ../shared.
 * Prints the table the PEQA report quotes; asserts the orderings any correct quantizer shows.
 */
class Stories260KQuantizationTest {
    static Map<String, float[][]> linearWeights(Path bin) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(bin)).order(ByteOrder.LITTLE_ENDIAN);
        int dim = b.getInt(), hidden = b.getInt(), layers = b.getInt(), heads = b.getInt(), kvHeads = b.getInt();
        int vocab = Math.abs(b.getInt());
        b.getInt(); // seq_len
        int kv = dim / heads * kvHeads;
        skip(b, vocab * dim + layers * dim);
        Map<String, float[][]> m = new LinkedHashMap<>();
        m.put("wq", read(b, layers, dim, dim));
        m.put("wk", read(b, layers, kv, dim));
        m.put("wv", read(b, layers, kv, dim));
        m.put("wo", read(b, layers, dim, dim));
        skip(b, layers * dim);
        m.put("w1", read(b, layers, hidden, dim));
        m.put("w2", read(b, layers, dim, hidden));
        m.put("w3", read(b, layers, hidden, dim));
        return m;
    }

    private static void skip(ByteBuffer b, int floats) {
        b.position(b.position() + 4 * floats);
    }

    /** (layers) matrices of (rows * cols) floats; rows and cols stored in the last two slots' lengths. */
    private static float[][] read(ByteBuffer b, int layers, int rows, int cols) {
        float[][] out = new float[layers + 1][];
        for (int l = 0; l < layers; l++) {
            out[l] = new float[rows * cols];
            b.asFloatBuffer().get(out[l]);
            skip(b, rows * cols);
        }
        out[layers] = new float[] {rows, cols};
        return out;
    }

    /** sqrt(sum ||W - What||² / sum ||W||²) over all linear weights. */
    static double relativeError(Map<String, float[][]> weights, int bits, int group) {
        double num = 0, den = 0;
        for (float[][] mats : weights.values()) {
            int layers = mats.length - 1, rows = (int) mats[layers][0], cols = (int) mats[layers][1];
            for (int l = 0; l < layers; l++)
                try (PackedWeight p = PackedWeight.fromFloats(mats[l], rows, cols, bits, group)) {
                    float[] d = p.dequantize();
                    for (int i = 0; i < d.length; i++) {
                        num += (double) (d[i] - mats[l][i]) * (d[i] - mats[l][i]);
                        den += (double) mats[l][i] * mats[l][i];
                    }
                }
        }
        return Math.sqrt(num / den);
    }

    @Test
    void reconstructionErrorTable() throws IOException {
        Path bin = Path.of(System.getProperty("qft4j.shared", "../shared"), "models/stories260K/stories260K.bin");
        assumeTrue(Files.exists(bin), "no " + bin);
        Map<String, float[][]> w = linearWeights(bin);
        int[] groups = {PackedWeight.PER_CHANNEL, 128, 64, 32};
        double[][] err = new double[2][groups.length];
        StringBuilder table = new StringBuilder("stories260K linear weights, RTN relative error ||W - What|| / ||W||\n");
        table.append(String.format("%-6s %12s %12s %12s %12s%n", "bits", "per-channel", "group 128", "group 64", "group 32"));
        for (int bi = 0; bi < 2; bi++) {
            int bits = 4 - bi;
            table.append(String.format("%-6d", bits));
            for (int gi = 0; gi < groups.length; gi++) {
                err[bi][gi] = relativeError(w, bits, groups[gi]);
                table.append(String.format(" %12.5f", err[bi][gi]));
            }
            table.append('\n');
        }
        System.out.print(table);
        for (int gi = 0; gi < groups.length; gi++) assertTrue(err[1][gi] > err[0][gi] * 1.5, "3-bit worse than 4-bit");
        for (int bi = 0; bi < 2; bi++) {
            assertTrue(err[bi][3] < err[bi][2] && err[bi][2] < err[bi][0], "smaller groups reconstruct better");
            assertTrue(err[bi][0] < 0.5, "per-channel error is plausible");
        }
    }
}
