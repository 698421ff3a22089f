package org.qft4j.llama;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * llama2.c's tokenizer ({@code tokenizer.bin}): int32 max_token_length, then per token a float32 merge score, an
 * int32 byte length and the bytes. Encoding is run.c's encode(): optional BOS, a dummy-prefix " " for non-empty
 * text, one token per UTF-8 code point (or its bytes as byte-fallback tokens {@code <0xNN>} at id byte+3), then
 * greedy merging of the adjacent pair with the highest score until none is in the vocabulary.
 */
public final class Tokenizer implements TextTokenizer {
    public static final int BOS = 1, EOS = 2;
    private static final int BYTE_FALLBACK_OFFSET = 3;

    private final byte[][] pieces;
    private final float[] scores;
    private final Map<String, Integer> ids = new HashMap<>(); // piece bytes as ISO-8859-1 string -> lowest id

    public Tokenizer(byte[][] pieces, float[] scores) {
        if (pieces.length != scores.length || pieces.length < BYTE_FALLBACK_OFFSET + 256)
            throw new IllegalArgumentException("Tokenizer: need a score per piece and at least 259 pieces (special + byte fallback), got " + pieces.length + " pieces, " + scores.length + " scores");
        this.pieces = pieces;
        this.scores = scores;
        for (int i = 0; i < pieces.length; i++) ids.putIfAbsent(key(pieces[i]), i);
    }

    public static Tokenizer load(Path path) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        try {
            int maxLen = buf.getInt();
            if (maxLen <= 0 || maxLen > 1 << 16) throw new CheckpointFormatException(path + ": max_token_length " + maxLen + " is not plausible; not a llama2.c tokenizer.bin");
            while (buf.hasRemaining()) {
                float score = buf.getFloat();
                int len = buf.getInt();
                if (len < 0 || len > maxLen)
                    throw new CheckpointFormatException(path + ": token " + pieces.size() + " has length " + len + " (max_token_length " + maxLen + ")");
                byte[] b = new byte[len];
                buf.get(b);
                pieces.add(b);
                scores.add(score);
            }
        } catch (BufferUnderflowException e) {
            throw new CheckpointFormatException(path + ": truncated after " + pieces.size() + " tokens");
        }
        if (pieces.size() < BYTE_FALLBACK_OFFSET + 256) throw new CheckpointFormatException(path + ": only " + pieces.size() + " tokens; a llama2.c vocabulary has at least 259");
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) s[i] = scores.get(i);
        return new Tokenizer(pieces.toArray(new byte[0][]), s);
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bos() {
        return BOS;
    }

    @Override
    public int eos() {
        return EOS;
    }

    /** The bytes of piece id as stored (byte-fallback pieces are the text {@code <0xNN>}). */
    public byte[] piece(int id) {
        return pieces[id].clone();
    }

    /** The merge score of piece id: higher merges first. */
    public float score(int id) {
        return scores[id];
    }

    /** The token ids of text, as run.c's encode(tokenizer, text, bos, eos). */
    @Override
    public int[] encode(String text, boolean bos, boolean eos) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        List<Integer> tokens = new ArrayList<>(bytes.length + 3);
        if (bos) tokens.add(BOS);
        if (bytes.length > 0) tokens.add(lookup(new byte[] {' '}));
        int start = 0;
        while (start < bytes.length) {
            int end = start + 1; // a code point: the lead byte and up to 3 continuation bytes (10xxxxxx)
            while (end < bytes.length && (bytes[end] & 0xC0) == 0x80 && end - start < 4) end++;
            Integer id = ids.get(new String(bytes, start, end - start, StandardCharsets.ISO_8859_1));
            if (id != null) tokens.add(id);
            else for (int i = start; i < end; i++) tokens.add((bytes[i] & 0xFF) + BYTE_FALLBACK_OFFSET);
            start = end;
        }
        while (true) {
            float best = Float.NEGATIVE_INFINITY;
            int bestId = -1, bestIdx = -1;
            for (int i = 0; i + 1 < tokens.size(); i++) {
                Integer id = ids.get(key(pieces[tokens.get(i)]) + key(pieces[tokens.get(i + 1)]));
                if (id != null && scores[id] > best) {
                    best = scores[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx < 0) break;
            tokens.set(bestIdx, bestId);
            tokens.remove(bestIdx + 1);
        }
        if (eos) tokens.add(EOS);
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The bytes token prints after prevToken, as run.c's decode(): a leading space is dropped after BOS, and
     * {@code <0xNN>} pieces are the raw byte NN.
     */
    @Override
    public byte[] decode(int prevToken, int token) {
        byte[] piece = pieces[token];
        int from = prevToken == BOS && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
        if (piece.length == 6 && piece[0] == '<' && piece[1] == '0' && piece[2] == 'x' && piece[5] == '>') {
            int hi = Character.digit(piece[3], 16), lo = Character.digit(piece[4], 16);
            if (hi >= 0 && lo >= 0) return new byte[] {(byte) (hi * 16 + lo)};
        }
        byte[] out = new byte[piece.length - from];
        System.arraycopy(piece, from, out, 0, out.length);
        return out;
    }

    /**
     * The bytes run.c's safe_printf() would print for a decoded piece: nothing for a single byte that is neither
     * printable nor whitespace (isprint/isspace in the C locale).
     */
    public static byte[] printable(byte[] piece) {
        if (piece.length == 1) {
            int b = piece[0] & 0xFF;
            boolean print = b >= 0x20 && b <= 0x7E, space = b == ' ' || (b >= 0x09 && b <= 0x0D);
            if (!print && !space) return new byte[0];
        }
        return piece;
    }

    private int lookup(byte[] piece) {
        Integer id = ids.get(key(piece));
        if (id == null) throw new IllegalStateException("Tokenizer: the vocabulary has no piece '" + key(piece) + "'");
        return id;
    }

    private static String key(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }
}
