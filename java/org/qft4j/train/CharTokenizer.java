package org.qft4j.train;

/**
 * One token per character over a fixed alphabet: the tokenizer of the embedded default model, which the
 * project trains itself. ids: 0 unknown, 1 BOS, 2 EOS, 3.. the alphabet in order.
 */
public final class CharTokenizer implements TokenEncoder {
    public static final String ALPHABET = " abcdefghijklmnopqrstuvwxyz.,";
    private static final int FIRST = 3;

    public int vocabSize() {
        return FIRST + ALPHABET.length();
    }

    @Override
    public int[] encode(String text) {
        int[] ids = new int[text.length()];
        for (int i = 0; i < ids.length; i++) {
            int k = ALPHABET.indexOf(Character.toLowerCase(text.charAt(i)));
            ids[i] = k < 0 ? 0 : FIRST + k;
        }
        return ids;
    }

    public String decode(int id) {
        if (id >= FIRST && id < vocabSize()) return String.valueOf(ALPHABET.charAt(id - FIRST));
        return id == 1 ? "<s>" : id == 2 ? "</s>" : "?";
    }
}
