package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.cli.Main;

class TokenFileTest {
    @TempDir Path dir;

    @Test
    void gpt2EncodesAsTiktokenDoes() {
        Gpt2Encoder e = new Gpt2Encoder();
        // tiktoken.get_encoding("gpt2").encode("Hello world") == [15496, 995]
        assertArrayEquals(new int[] {15496, 995}, e.encode("Hello world"));
        // The special token's spelling in text is ordinary text, never id 50256.
        assertTrue(Arrays.stream(e.encode("<|endoftext|>")).noneMatch(t -> t == Gpt2Encoder.END_OF_TEXT));
        String text = "It is a truth universally acknowledged, that a single man — in possession of a good fortune…";
        assertEquals(text, e.decode(e.encode(text)));
    }

    @Test
    void tokenizesDocumentsWithTheirParagraphs() throws Exception {
        Files.writeString(dir.resolve("a.txt"), "First paragraph,\nwrapped.\n\nSecond one.\n");
        Files.writeString(dir.resolve("b.txt"), "Another document.");
        Gpt2Encoder e = new Gpt2Encoder();
        int[] t = TokenFile.tokenize(List.of(dir), e);
        assertEquals(Gpt2Encoder.END_OF_TEXT, t[0]);
        int second = Arrays.stream(t).skip(1).boxed().toList().indexOf(Gpt2Encoder.END_OF_TEXT) + 1;
        assertEquals("First paragraph, wrapped.\n\nSecond one.\n\n", e.decode(Arrays.copyOfRange(t, 1, second)));
        assertEquals("Another document.\n\n", e.decode(Arrays.copyOfRange(t, second + 1, t.length)));
    }

    @Test
    void writeThenReadRoundTripsAndLeavesNoTemporaryFile() throws Exception {
        int[] tokens = new int[300_001];
        for (int i = 0; i < tokens.length; i++) tokens[i] = (int) (i * 7919L % Gpt2Encoder.VOCAB_SIZE);
        Path f = dir.resolve("corpus.i32");
        TokenFile.write(f, tokens);
        assertEquals(4L * tokens.length, Files.size(f));
        assertArrayEquals(tokens, TokenFile.read(f, Gpt2Encoder.VOCAB_SIZE));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList());
        }
    }

    @Test
    void badTokenFilesAreRefusedWithTheReason() throws Exception {
        Path empty = Files.write(dir.resolve("empty.i32"), new byte[0]);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenFile.read(empty, 10)).getMessage().contains("empty"));
        Path torn = Files.write(dir.resolve("torn.i32"), new byte[] {1, 0, 0, 0, 2, 0});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenFile.read(torn, 10)).getMessage().contains("not a whole number of int32"));
        Path big = dir.resolve("big.i32");
        TokenFile.write(big, new int[] {1, 2, 10});
        String m = assertThrows(IllegalArgumentException.class, () -> TokenFile.read(big, 10)).getMessage();
        assertTrue(m.contains("token 10 at index 2") && m.contains("[0, 10)"), m);
        Path negative = Files.write(dir.resolve("neg.i32"), new byte[] {-1, -1, -1, -1});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenFile.read(negative, 10)).getMessage().contains("token -1"));
    }

    @Test
    void tokenizeCommandWritesTheFileAndRefusesUnknownEncodings() throws Exception {
        Files.writeString(dir.resolve("speech.txt"), "Fellow citizens of the Senate and House of Representatives:\n\nAmong the vicissitudes...");
        Path f = dir.resolve("out/speech.i32");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = Main.run(new String[] {"tokenize", "--data", dir.resolve("speech.txt").toString(), "--out", f.toString()},
                new PrintStream(out, true), System.err);
        assertEquals(0, rc, out.toString());
        int[] t = TokenFile.read(f, Gpt2Encoder.VOCAB_SIZE);
        assertTrue(out.toString().contains("tokens " + t.length), out.toString());
        assertNotEquals(0, t.length);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, Main.run(new String[] {"tokenize", "--encoding", "bpe9", "--data", dir.toString(), "--out", f.toString()},
                System.out, new PrintStream(err, true)));
        assertTrue(err.toString().contains("unknown --encoding 'bpe9'"), err.toString());
    }
}
