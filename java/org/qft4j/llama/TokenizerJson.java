package org.qft4j.llama;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.checkpoint.Json;

/**
 * Converts a llama2.c {@code tokenizer.bin} into the Hugging Face {@code tokenizer.json} that transformers'
 * LlamaConverter writes for a sentencepiece BPE model (convert_slow_tokenizer.py, legacy Llama 2 layout): a BPE model
 * with byte_fallback over the same ids, merges derived from the score-ordered vocabulary as SentencePieceExtractor
 * does, the normalizer Prepend("▁") + Replace(" ", "▁") (the dummy prefix; Prepend skips empty text), no
 * pre-tokenizer, a decoder Replace/ByteFallback/Fuse/Strip and a BOS template. HF's BPE merges the pair of lowest
 * rank, leftmost first; ranks follow descending scores, so it reproduces llama2.c's greedy highest-score merge.
 */
public final class TokenizerJson {
    /** sentencepiece's whitespace marker; llama2.c's export replaced it with ' '. */
    public static final String SPACE = "\u2581";
    private static final String UNK = "<unk>", BOS = "<s>", EOS = "</s>";

    private TokenizerJson() {}

    /** tokenizer.json's text for a llama2.c tokenizer (ids kept: 0 unk, 1 BOS, 2 EOS, 3..258 byte fallback). */
    public static String convert(Tokenizer t) {
        String[] vocab = new String[t.vocabSize()];
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < vocab.length; i++) {
            vocab[i] = i == 0 ? UNK : i == Tokenizer.BOS ? BOS : i == Tokenizer.EOS ? EOS : hfPiece(t.piece(i), i);
            Integer dup = ids.putIfAbsent(vocab[i], i);
            if (dup != null) throw new IllegalArgumentException("tokenizer.bin: pieces " + dup + " and " + i + " are both '" + vocab[i] + "'; a tokenizer.json vocabulary needs distinct pieces");
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", Json.NULL);
        model.put("unk_token", UNK);
        model.put("continuing_subword_prefix", Json.NULL);
        model.put("end_of_word_suffix", Json.NULL);
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        Map<String, Object> v = new LinkedHashMap<>();
        for (int i = 0; i < vocab.length; i++) v.put(vocab[i], (long) i);
        model.put("vocab", v);
        model.put("merges", merges(vocab, ids, t));

        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", Json.NULL);
        root.put("padding", Json.NULL);
        root.put("added_tokens", List.of(added(0, UNK), added(Tokenizer.BOS, BOS), added(Tokenizer.EOS, EOS)));
        root.put("normalizer", ordered("type", "Sequence", "normalizers", List.of(
                ordered("type", "Prepend", "prepend", SPACE),
                replace(" ", SPACE))));
        root.put("pre_tokenizer", Json.NULL);
        root.put("post_processor", bosTemplate());
        root.put("decoder", ordered("type", "Sequence", "decoders", List.of(
                replace(SPACE, " "), ordered("type", "ByteFallback"), ordered("type", "Fuse"),
                ordered("type", "Strip", "content", " ", "start", 1L, "stop", 0L))));
        root.put("model", model);
        return Json.write(root) + "\n";
    }

    /** Writes tokenizer.json and the tokenizer_config.json transformers' AutoTokenizer reads beside it into dir. */
    public static void writeHf(Tokenizer t, Path dir, int modelMaxLength) throws IOException {
        Files.createDirectories(dir);
        writeAtomically(dir.resolve("tokenizer.json"), convert(t));
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("tokenizer_class", "LlamaTokenizerFast");
        cfg.put("bos_token", BOS);
        cfg.put("eos_token", EOS);
        cfg.put("unk_token", UNK);
        cfg.put("add_bos_token", true);
        cfg.put("add_eos_token", false);
        cfg.put("legacy", true);
        cfg.put("clean_up_tokenization_spaces", false);
        cfg.put("model_max_length", (long) modelMaxLength);
        writeAtomically(dir.resolve("tokenizer_config.json"), Json.write(cfg) + "\n");
    }

    /** Converts the llama2.c tokenizer file in into a tokenizer.json file out. */
    public static void convert(Path in, Path out) throws IOException {
        Tokenizer t = Tokenizer.load(in);
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        writeAtomically(out, convert(t));
    }

    /**
     * SentencePieceExtractor.extract(vocab_scores): for every piece, each split into two pieces of the vocabulary
     * is a merge with the piece's score (splits ordered by the ids of their halves); all merges sorted by descending
     * score, ties kept in id order (Python's sort is stable).
     */
    static List<Object> merges(String[] vocab, Map<String, Integer> ids, Tokenizer t) {
        record Merge(String left, String right, float score, int order) {}
        List<Merge> all = new ArrayList<>();
        for (int i = Tokenizer.EOS + 1; i < vocab.length; i++) {
            String p = vocab[i];
            List<int[]> splits = new ArrayList<>(); // (left id, right id, split index)
            for (int k = p.offsetByCodePoints(0, 1); k < p.length(); k = p.offsetByCodePoints(k, 1)) {
                Integer l = ids.get(p.substring(0, k)), r = ids.get(p.substring(k));
                if (l != null && r != null) splits.add(new int[] {l, r, k});
            }
            splits.sort((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
            for (int[] s : splits) all.add(new Merge(p.substring(0, s[2]), p.substring(s[2]), t.score(i), all.size()));
        }
        all.sort((a, b) -> a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.order, b.order));
        List<Object> out = new ArrayList<>(all.size());
        for (Merge m : all) out.add(m.left + " " + m.right); // the "a b" form every tokenizers version reads; pieces hold no ' '
        return out;
    }

    /** A llama2.c piece as sentencepiece wrote it: ' ' back to '▁'; the bytes must be UTF-8 (pieces are whole characters). */
    private static String hfPiece(byte[] piece, int id) {
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(piece)).toString();
            return s.replace(" ", SPACE);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("tokenizer.bin: piece " + id + " is not UTF-8 text; tokenizer.json cannot hold it");
        }
    }

    private static Map<String, Object> added(int id, String content) {
        return ordered("id", (long) id, "content", content, "single_word", false, "lstrip", false, "rstrip", false, "normalized", false, "special", true);
    }

    private static Map<String, Object> replace(String pattern, String content) {
        return ordered("type", "Replace", "pattern", ordered("String", pattern), "content", content);
    }

    /** TemplateProcessing as LlamaTokenizerFast has it with add_bos_token: "<s> $A" and "<s> $A <s> $B". */
    private static Map<String, Object> bosTemplate() {
        Object bos = ordered("SpecialToken", ordered("id", BOS, "type_id", 0L));
        Object a = ordered("Sequence", ordered("id", "A", "type_id", 0L)), b = ordered("Sequence", ordered("id", "B", "type_id", 1L));
        Object bos1 = ordered("SpecialToken", ordered("id", BOS, "type_id", 1L));
        return ordered("type", "TemplateProcessing", "single", List.of(bos, a), "pair", List.of(bos, a, bos1, b),
                "special_tokens", ordered(BOS, ordered("id", BOS, "ids", List.of((long) Tokenizer.BOS), "tokens", List.of(BOS))));
    }

    /** A map that keeps insertion order, so the file is the same on every run. */
    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
