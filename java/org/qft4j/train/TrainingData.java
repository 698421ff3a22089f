package org.qft4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.qft4j.checkpoint.Json;

/**
 * Turns files into training sequences. Plain text (any file but .jsonl; folders are searched for .txt and
 * .jsonl, in sorted order) is packed: every document starts with BOS, documents are concatenated and cut
 * into non-overlapping windows of seqLen + 1 tokens. JSONL lines {"prompt": .., "response": ..} become one
 * sequence each, BOS prompt response EOS, with the loss only on predicting the response and EOS.
 */
public final class TrainingData {
    private TrainingData() {}

    /** Training and validation sequences. */
    public record Split(List<Sequence> train, List<Sequence> validation) {}

    public static List<Sequence> load(List<Path> paths, TokenEncoder encoder, int seqLen) {
        List<Sequence> out = new ArrayList<>();
        List<String> documents = new ArrayList<>();
        for (Path p : expand(paths)) {
            String text = read(p);
            if (p.getFileName().toString().endsWith(".jsonl")) out.addAll(examples(text, p.toString(), encoder, seqLen));
            else documents.add(text);
        }
        out.addAll(pack(documents, encoder, seqLen));
        if (out.isEmpty()) throw new IllegalArgumentException("no training sequences in " + paths);
        return out;
    }

    /** Files named directly, and the .txt/.jsonl files under folders, each folder's in sorted order. */
    static List<Path> expand(List<Path> paths) {
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.walk(p)) {
                    s.filter(Files::isRegularFile)
                            .filter(f -> f.toString().endsWith(".txt") || f.toString().endsWith(".jsonl"))
                            .sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new UncheckedIOException("listing " + p, e);
                }
            } else if (Files.isRegularFile(p)) {
                files.add(p);
            } else {
                throw new IllegalArgumentException("data path " + p + " is neither a file nor a folder");
            }
        }
        return files;
    }

    /**
     * Packs documents into next-token windows of at most seqLen positions. Each blank-line separated paragraph
     * is encoded on its own with its wrapped lines joined by spaces: whole-book BPE calls would be quadratic.
     * Paragraphs are encoded in parallel, so the encoder must be thread-safe (llama2.c's tokenizer is).
     */
    public static List<Sequence> pack(List<String> documents, TokenEncoder encoder, int seqLen) {
        int[] stream = new int[1024];
        int n = 0;
        for (String doc : documents) {
            stream = ensure(stream, n + 1);
            stream[n++] = encoder.bos();
            // Paragraphs encode independently (in order of the list): a book's worth takes minutes on one core.
            for (int[] ids : paragraphs(doc).parallelStream().map(encoder::encode).toList()) {
                stream = ensure(stream, n + ids.length);
                System.arraycopy(ids, 0, stream, n, ids.length);
                n += ids.length;
            }
        }
        return windows(stream, n, seqLen);
    }

    /** A document's blank-line separated paragraphs, each with its wrapped lines joined by single spaces. */
    static List<String> paragraphs(String doc) {
        List<String> out = new ArrayList<>();
        for (String para : doc.split("\\r?\\n\\s*\\r?\\n")) {
            String joined = para.strip().replaceAll("\\s*\\r?\\n\\s*", " ");
            if (!joined.isEmpty()) out.add(joined);
        }
        return out;
    }

    /** Non-overlapping next-token windows over stream[0, n): each reads up to seqLen tokens and predicts the next ones. */
    public static List<Sequence> windows(int[] stream, int n, int seqLen) {
        if (seqLen <= 0) throw new IllegalArgumentException("sequence length must be positive, got " + seqLen);
        List<Sequence> out = new ArrayList<>();
        for (int from = 0; from + 1 < n; from += seqLen) out.add(Sequence.window(stream, from, Math.min(seqLen, n - 1 - from)));
        return out;
    }

    /** One sequence per JSONL line {"prompt","response"}; a response truncated away entirely is an error. */
    public static List<Sequence> examples(String jsonl, String source, TokenEncoder encoder, int seqLen) {
        List<Sequence> out = new ArrayList<>();
        String[] lines = jsonl.split("\\r?\\n");
        for (int ln = 0; ln < lines.length; ln++) {
            if (lines[ln].isBlank()) continue;
            String where = source + ":" + (ln + 1);
            Map<?, ?> obj;
            try {
                if (!(Json.parse(lines[ln]) instanceof Map<?, ?> m)) throw new IllegalArgumentException("not a JSON object");
                obj = m;
            } catch (Json.ParseException e) {
                throw new IllegalArgumentException(where + ": not valid JSON: " + e.getMessage(), e);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
            if (!(obj.get("prompt") instanceof String prompt) || !(obj.get("response") instanceof String response))
                throw new IllegalArgumentException(where + ": needs string fields \"prompt\" and \"response\", got " + obj.keySet());
            int[] p = encoder.encode(prompt), r = encoder.encode(response);
            int total = 1 + p.length + r.length + 1;
            if (1 + p.length >= seqLen + 1)
                throw new IllegalArgumentException(where + ": the prompt (" + p.length + " tokens) leaves no room for the response in seqLen " + seqLen);
            int[] tokens = new int[total];
            tokens[0] = encoder.bos();
            System.arraycopy(p, 0, tokens, 1, p.length);
            System.arraycopy(r, 0, tokens, 1 + p.length, r.length);
            tokens[total - 1] = encoder.eos();
            int len = Math.min(seqLen, total - 1);
            Sequence s = Sequence.window(tokens, 0, len);
            // Position t predicts token t+1: it is scored only when token t+1 belongs to the response (or is EOS).
            for (int t = 0; t < len && t + 1 < 1 + p.length; t++) s.targets()[t] = Sequence.IGNORE;
            out.add(s);
        }
        return out;
    }

    /** A seeded random {@code fraction} of the sequences held out for validation (at least one when fraction > 0). */
    public static Split split(List<Sequence> all, double fraction, long seed) {
        if (fraction <= 0) return new Split(List.copyOf(all), List.of());
        int[] order = permutation(all.size(), new SplittableRandom(seed ^ 0x5DEECE66DL));
        int nVal = Math.max(1, (int) Math.round(all.size() * fraction));
        if (nVal >= all.size())
            throw new IllegalArgumentException("validation fraction " + fraction + " of " + all.size() + " sequences leaves nothing to train on");
        int[] val = Arrays.copyOf(order, nVal), train = Arrays.copyOfRange(order, nVal, order.length);
        Arrays.sort(val);
        Arrays.sort(train);
        List<Sequence> v = new ArrayList<>(), t = new ArrayList<>();
        for (int i : val) v.add(all.get(i));
        for (int i : train) t.add(all.get(i));
        return new Split(t, v);
    }

    /** Fisher-Yates permutation of [0, n). */
    static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    private static int[] ensure(int[] a, int size) {
        return size <= a.length ? a : Arrays.copyOf(a, Math.max(size, a.length * 2));
    }

    static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + p, e);
        }
    }
}
