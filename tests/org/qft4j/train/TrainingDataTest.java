package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingDataTest {
    static final FakeEncoder ENC = new FakeEncoder();

    @Test
    void textIsPackedIntoNextTokenWindowsWithABosPerDocument() {
        List<Sequence> s = TrainingData.pack(List.of("abcdef", "xy"), ENC, 4);
        // stream: BOS a b c d e f BOS x y  (10 tokens) -> windows of 4 positions, stride 4
        int a = 3 + 'a';
        assertEquals(3, s.size());
        assertArrayEquals(new int[] {1, a, a + 1, a + 2}, s.get(0).inputs());
        assertArrayEquals(new int[] {a, a + 1, a + 2, a + 3}, s.get(0).targets());
        assertArrayEquals(new int[] {a + 3, a + 4, a + 5, 1}, s.get(1).inputs());
        assertArrayEquals(new int[] {3 + 'x'}, s.get(2).inputs());
        assertArrayEquals(new int[] {3 + 'y'}, s.get(2).targets());
        for (Sequence q : s) assertEquals(q.length(), q.lossTokens());
    }

    @Test
    void wrappedLinesAreJoinedAndParagraphsEncodedSeparately() {
        List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
        TokenEncoder spy = t -> {
            calls.add(t);
            return ENC.encode(t);
        };
        TrainingData.pack(List.of("one\ntwo\n\n  three  \r\n\r\nfour"), spy, 8);
        assertEquals(Set.of("one two", "three", "four"), new HashSet<>(calls));
        assertEquals(3, calls.size());
    }

    @Test
    void jsonlExamplesScoreOnlyTheResponseAndEos() {
        List<Sequence> s = TrainingData.examples("{\"prompt\":\"ab\",\"response\":\"cd\"}\n\n", "t.jsonl", ENC, 16);
        assertEquals(1, s.size());
        int a = 3 + 'a';
        // tokens BOS a b c d EOS: positions 0..4; position t predicts token t+1; c is token 3
        assertArrayEquals(new int[] {1, a, a + 1, a + 2, a + 3}, s.get(0).inputs());
        assertArrayEquals(new int[] {-1, -1, a + 2, a + 3, 2}, s.get(0).targets());
        assertEquals(3, s.get(0).lossTokens());
    }

    @Test
    void longExamplesAreTruncatedAndBadLinesNamedByFileAndLine() {
        Sequence s = TrainingData.examples("{\"prompt\":\"ab\",\"response\":\"cdefgh\"}", "t.jsonl", ENC, 4).get(0);
        assertEquals(4, s.length());
        assertEquals(2, s.lossTokens());
        String m = assertThrows(IllegalArgumentException.class,
                () -> TrainingData.examples("{\"prompt\":\"a\",\"response\":\"b\"}\n{\"prompt\":\"a\"}", "x.jsonl", ENC, 8)).getMessage();
        assertTrue(m.startsWith("x.jsonl:2: needs string fields \"prompt\" and \"response\""), m);
        m = assertThrows(IllegalArgumentException.class, () -> TrainingData.examples("{oops", "y.jsonl", ENC, 8)).getMessage();
        assertTrue(m.startsWith("y.jsonl:1: not valid JSON: expected a string key"), m);
        m = assertThrows(IllegalArgumentException.class,
                () -> TrainingData.examples("{\"prompt\":\"abcdef\",\"response\":\"b\"}", "z.jsonl", ENC, 4)).getMessage();
        assertTrue(m.contains("leaves no room for the response in seqLen 4"), m);
    }

    @Test
    void foldersAreReadInSortedOrderMixingTextAndJsonl(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("b.txt"), "bbbb");
        Files.writeString(dir.resolve("a.txt"), "aaaa");
        Files.writeString(dir.resolve("ignored.md"), "zzzz");
        Files.writeString(dir.resolve("sub/q.jsonl"), "{\"prompt\":\"p\",\"response\":\"r\"}\n");
        List<Sequence> s = TrainingData.load(List.of(dir), ENC, 100);
        assertEquals(2, s.size());
        assertEquals(2, s.get(0).lossTokens()); // the JSONL example: r and EOS
        assertEquals(1, s.get(1).inputs()[0]);
        assertEquals(3 + 'a', s.get(1).inputs()[1]);
        assertEquals(3 + 'b', s.get(1).inputs()[6]);
        assertThrows(IllegalArgumentException.class, () -> TrainingData.load(List.of(dir.resolve("missing")), ENC, 8));
    }

    @Test
    void theSplitIsDeterministicBySeedDisjointAndComplete() {
        List<Sequence> all = TrainingData.pack(List.of("abcdefghijklmnopqrstuvwxyz".repeat(8)), ENC, 4);
        TrainingData.Split a = TrainingData.split(all, 0.2, 7), b = TrainingData.split(all, 0.2, 7), c = TrainingData.split(all, 0.2, 8);
        assertEquals(Math.round(all.size() * 0.2), a.validation().size());
        assertEquals(all.size(), a.train().size() + a.validation().size());
        assertEquals(a.validation(), b.validation());
        assertNotEquals(a.validation(), c.validation());
        Set<Sequence> seen = new HashSet<>(a.train());
        for (Sequence v : a.validation()) assertTrue(seen.add(v), "validation sequence also in training");
        assertEquals(all.size(), TrainingData.split(all, 0, 7).train().size());
    }

    @Test
    void theSamplerCoversEachEpochOnceInASeededOrder() {
        List<Sequence> all = TrainingData.pack(List.of("abcdefghijklmnopqrstuvwxyz".repeat(4)), ENC, 5);
        int n = all.size();
        BatchSampler s1 = new BatchSampler(all, 3), s2 = new BatchSampler(all, 3), s3 = new BatchSampler(all, 4);
        List<Sequence> e0 = s1.next(n);
        assertEquals(new HashSet<>(all), new HashSet<>(e0));
        assertEquals(e0, s2.next(n));
        assertNotEquals(e0, s3.next(n));
        assertEquals(0, s1.epoch());
        List<Sequence> e1 = s1.next(n);
        assertEquals(1, s1.epoch());
        assertEquals(new HashSet<>(all), new HashSet<>(e1));
        assertNotEquals(e0, e1);
    }
}
