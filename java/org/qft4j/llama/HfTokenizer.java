package org.qft4j.llama;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.qft4j.Qft4jException;
import org.qft4j.checkpoint.Json;

/**
 * A Hugging Face {@code tokenizer.json} (a file, or a model directory holding one), encoded by the Rust
 * {@code tokenizers} library through DJL's JNI binding. The file is read twice: by qft4j's strict JSON reader for the
 * vocabulary (size, BOS/EOS, the pieces decode prints) and by the native library for encoding; both must accept it.
 *
 * <p>DJL's jar bundles libtokenizers for linux-x86_64 and extracts it to its cache directory
 * ({@code ~/.djl.ai/tokenizers}; set {@code DJL_CACHE_DIR} or {@code ENGINE_CACHE_DIR} where home is read-only).
 * Loading sets DJL's offline mode ({@code ai.djl.offline}) and {@code OPT_OUT_TRACKING} unless the caller set them:
 * without them DJL picks a CUDA build of the library on a GPU host and downloads it, and contacts the EC2 metadata
 * address; with them it uses the bundled CPU library and no network.
 */
public final class HfTokenizer implements TextTokenizer {
    /** Ids beyond this are not a tokenizer but a file that would make us allocate gigabytes. */
    static final int MAX_VOCAB = 1 << 22;
    private static final String SPACE = TokenizerJson.SPACE;

    /** How a token id becomes the bytes it prints: the decoder families LLaMA tokenizers use, else the native decoder. */
    private enum Decoding { SENTENCEPIECE, BYTE_LEVEL, NATIVE }

    private final Path file;
    private final String[] pieces; // (vocabSize) token text by id; null where the file assigns no token
    private final boolean[] special; // (vocabSize) added tokens marked special: they print nothing
    private final int bos, eos;
    private final Decoding decoding;
    private HuggingFaceTokenizer handle; // null once closed

    private HfTokenizer(Path file, String[] pieces, boolean[] special, int bos, int eos, Decoding decoding, HuggingFaceTokenizer handle) {
        this.file = file;
        this.pieces = pieces;
        this.special = special;
        this.bos = bos;
        this.eos = eos;
        this.decoding = decoding;
        this.handle = handle;
    }

    /** Loads path: a tokenizer.json file, or a directory holding tokenizer.json (and optionally tokenizer_config.json). */
    public static HfTokenizer load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file))
            throw new CheckpointFormatException(file + ": no such file" + (Files.isDirectory(path) ? "; the directory holds no Hugging Face tokenizer.json" : ""));
        byte[] bytes = Files.readAllBytes(file);
        Map<?, ?> root = object(file, "the top level", parse(file, bytes));
        Map<?, ?> model = object(file, "'model'", root.get("model"));
        Object vocab = model.get("vocab");
        Map<String, Integer> ids = new HashMap<>();
        int size = 0;
        if (vocab instanceof Map<?, ?> m) { // BPE, WordPiece, WordLevel: {piece: id}
            for (Map.Entry<?, ?> e : m.entrySet()) size = Math.max(size, put(file, ids, (String) e.getKey(), e.getValue()) + 1);
        } else if (vocab instanceof List<?> l) { // Unigram: [[piece, score], ...], id = position
            if (l.size() > MAX_VOCAB) throw new CheckpointFormatException(file + ": " + l.size() + " vocabulary entries, more than " + MAX_VOCAB);
            for (int i = 0; i < l.size(); i++) {
                if (!(l.get(i) instanceof List<?> p) || p.isEmpty() || !(p.get(0) instanceof String s))
                    throw new CheckpointFormatException(file + ": model.vocab[" + i + "] is not [piece, score]");
                put(file, ids, s, (long) i);
            }
            size = l.size();
        } else {
            throw new CheckpointFormatException(file + ": 'model' has no 'vocab' object or list; not a Hugging Face tokenizer.json");
        }
        Map<Integer, String> addedSpecial = new HashMap<>();
        Object added = root.get("added_tokens");
        if (added != null && added != Json.NULL) {
            if (!(added instanceof List<?> list)) throw new CheckpointFormatException(file + ": 'added_tokens' is not a list");
            for (int i = 0; i < list.size(); i++) {
                Map<?, ?> a = object(file, "added_tokens[" + i + "]", list.get(i));
                if (!(a.get("content") instanceof String content)) throw new CheckpointFormatException(file + ": added_tokens[" + i + "] has no string 'content'");
                int id = put(file, ids, content, a.get("id"));
                size = Math.max(size, id + 1);
                if (Boolean.TRUE.equals(a.get("special"))) addedSpecial.put(id, content);
            }
        }
        if (size == 0) throw new CheckpointFormatException(file + ": the vocabulary is empty");
        String[] pieces = new String[size];
        boolean[] special = new boolean[size];
        for (Map.Entry<String, Integer> e : ids.entrySet()) pieces[e.getValue()] = e.getKey();
        for (Map.Entry<Integer, String> e : addedSpecial.entrySet()) {
            pieces[e.getKey()] = e.getValue();
            special[e.getKey()] = true;
        }
        Map<?, ?> config = config(file.resolveSibling("tokenizer_config.json"));
        int bos = specialId(ids, config.get("bos_token"), "<s>", "<|begin_of_text|>", "<bos>");
        int eos = specialId(ids, config.get("eos_token"), "</s>", "<|end_of_text|>", "<eos>");
        Decoding decoding = decoding(root.get("decoder"), Boolean.TRUE.equals(model.get("byte_fallback")));
        return new HfTokenizer(file, pieces, special, bos, eos, decoding, nativeTokenizer(file, bytes));
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bos() {
        if (bos < 0) throw new IllegalArgumentException(file + ": no BOS token (bos_token in tokenizer_config.json, or <s>, <|begin_of_text|>, <bos>)");
        return bos;
    }

    @Override
    public int eos() {
        if (eos < 0) throw new IllegalArgumentException(file + ": no EOS token (eos_token in tokenizer_config.json, or </s>, <|end_of_text|>, <eos>)");
        return eos;
    }

    /**
     * The ids the file's normalizer, pre-tokenizer and model give text; BOS/EOS added here, not by its post-processor.
     *
     * @throws IllegalArgumentException when the tokenizer cannot represent the text (a character outside a vocabulary
     *         that has neither byte fallback nor an unknown token)
     */
    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        long[] ids;
        synchronized (this) {
            HuggingFaceTokenizer h = open();
            try {
                Encoding e = h.encode(text, false, false);
                ids = e.getIds();
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": cannot encode the text (" + text.length() + " characters, starting '"
                        + text.substring(0, Math.min(40, text.length())) + "'): " + e.getMessage(), e);
            }
        }
        for (long id : ids)
            if (id < 0 || id >= pieces.length) throw new IllegalArgumentException(file + ": the native tokenizer produced id " + id + ", outside the vocabulary of " + pieces.length);
        int[] out = new int[ids.length + (addBos ? 1 : 0) + (addEos ? 1 : 0)];
        int n = 0;
        if (addBos) out[n++] = bos();
        for (long id : ids) out[n++] = Math.toIntExact(id);
        if (addEos) out[n] = eos();
        return out;
    }

    @Override
    public byte[] decode(int prevToken, int token) {
        if (token < 0 || token >= pieces.length) throw new IllegalArgumentException(file + ": token " + token + " is outside the vocabulary of " + pieces.length);
        String piece = pieces[token];
        if (piece == null || special[token]) return new byte[0];
        byte[] b = switch (decoding) {
            case SENTENCEPIECE -> sentencepiece(piece);
            case BYTE_LEVEL -> byteLevel(piece);
            case NATIVE -> {
                synchronized (this) {
                    yield open().decode(new long[] {token}, true).getBytes(StandardCharsets.UTF_8);
                }
            }
        };
        return prevToken == bos && b.length > 0 && b[0] == ' ' ? Arrays.copyOfRange(b, 1, b.length) : b;
    }

    /** Frees the native tokenizer; idempotent. */
    @Override
    public synchronized void close() {
        if (handle != null) {
            handle.close();
            handle = null;
        }
    }

    @Override
    public String toString() {
        return "HfTokenizer(" + file + ", " + pieces.length + " tokens)";
    }

    private HuggingFaceTokenizer open() {
        if (handle == null) throw new IllegalStateException(file + ": the tokenizer is closed");
        return handle;
    }

    /** '▁' is a space, {@code <0xNN>} the raw byte (byte fallback), anything else its UTF-8. */
    private static byte[] sentencepiece(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            int hi = Character.digit(piece.charAt(3), 16), lo = Character.digit(piece.charAt(4), 16);
            if (hi >= 0 && lo >= 0) return new byte[] {(byte) (hi * 16 + lo)};
        }
        return piece.replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
    }

    /** GPT-2's byte-level alphabet inverted: each character of the piece stands for one byte. */
    private static byte[] byteLevel(String piece) {
        byte[] out = new byte[piece.length()];
        int n = 0;
        for (int i = 0; i < piece.length(); i++) {
            int b = BYTE_OF_CHAR.getOrDefault(piece.charAt(i), -1);
            if (b < 0) return piece.getBytes(StandardCharsets.UTF_8); // not byte-level text (an added token)
            out[n++] = (byte) b;
        }
        return Arrays.copyOf(out, n);
    }

    /** bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 to U+0100 upwards. */
    private static final Map<Character, Integer> BYTE_OF_CHAR = new HashMap<>();

    static {
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_OF_CHAR.put((char) (printable ? b : next++), b);
        }
    }

    private static Decoding decoding(Object decoder, boolean byteFallback) {
        if (decoder instanceof Map<?, ?> d) {
            Object type = d.get("type");
            if ("ByteLevel".equals(type)) return Decoding.BYTE_LEVEL;
            if ("Metaspace".equals(type) || "ByteFallback".equals(type)) return Decoding.SENTENCEPIECE;
            if ("Sequence".equals(type) && d.get("decoders") instanceof List<?> parts) {
                Decoding found = Decoding.NATIVE;
                for (Object p : parts) {
                    Decoding k = decoding(p, byteFallback);
                    if (k == Decoding.BYTE_LEVEL) return k;
                    if (k == Decoding.SENTENCEPIECE || p instanceof Map<?, ?> r && "Replace".equals(r.get("type")) && replacesSpaceMarker(r)) found = Decoding.SENTENCEPIECE;
                }
                return found;
            }
            return Decoding.NATIVE;
        }
        return byteFallback ? Decoding.SENTENCEPIECE : Decoding.NATIVE;
    }

    private static boolean replacesSpaceMarker(Map<?, ?> replace) {
        return replace.get("pattern") instanceof Map<?, ?> p && SPACE.equals(p.get("String"));
    }

    /** The native tokenizer, told to add no special tokens, truncate and pad nothing (qft4j adds BOS/EOS itself). */
    private static HuggingFaceTokenizer nativeTokenizer(Path file, byte[] json) throws CheckpointFormatException {
        djlOffline();
        try {
            return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json),
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (ai.djl.engine.EngineException e) {
            throw new Qft4jException("cannot load DJL's native Hugging Face tokenizers library: " + e.getMessage() + (e.getCause() != null ? ": " + e.getCause().getMessage() : "")
                    + "; DJL extracts it under DJL_CACHE_DIR (default ~/.djl.ai), which must be writable");
        } catch (IOException | RuntimeException e) {
            throw new CheckpointFormatException(file + ": Hugging Face tokenizers cannot load it: " + e.getMessage());
        }
    }

    /** See the class comment: the bundled CPU library, and no network. */
    private static void djlOffline() {
        if (System.getenv("DJL_OFFLINE") == null && System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
        if (System.getenv("OPT_OUT_TRACKING") == null && System.getProperty("OPT_OUT_TRACKING") == null) System.setProperty("OPT_OUT_TRACKING", "true");
    }

    private static Object parse(Path file, byte[] bytes) throws CheckpointFormatException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointFormatException(file + ": not UTF-8 text; not a Hugging Face tokenizer.json");
        }
        try {
            return Json.parse(text);
        } catch (Json.ParseException e) {
            throw new CheckpointFormatException(file + ": malformed JSON: " + e.getMessage());
        }
    }

    private static Map<?, ?> object(Path file, String what, Object v) throws CheckpointFormatException {
        if (!(v instanceof Map<?, ?> m)) throw new CheckpointFormatException(file + ": " + what + " is not a JSON object; not a Hugging Face tokenizer.json");
        return m;
    }

    /** Records piece -> id; the id must be an integer in [0, MAX_VOCAB). */
    private static int put(Path file, Map<String, Integer> ids, String piece, Object id) throws CheckpointFormatException {
        if (!(id instanceof Long l) || l < 0 || l >= MAX_VOCAB)
            throw new CheckpointFormatException(file + ": token '" + piece + "' has id " + id + "; ids are integers in [0, " + MAX_VOCAB + ")");
        ids.put(piece, l.intValue());
        return l.intValue();
    }

    /** tokenizer_config.json beside the file, or an empty map when there is none. */
    private static Map<?, ?> config(Path file) throws IOException {
        if (!Files.isRegularFile(file)) return Map.of();
        return object(file, "the top level", parse(file, Files.readAllBytes(file)));
    }

    /** The id of the configured token (a string, or {"content": ...}), else of the first of the usual names present; -1 if none. */
    private static int specialId(Map<String, Integer> ids, Object configured, String... usual) {
        Object content = configured instanceof Map<?, ?> m ? m.get("content") : configured;
        if (content instanceof String s && ids.containsKey(s)) return ids.get(s);
        for (String u : usual) if (ids.containsKey(u)) return ids.get(u);
        return -1;
    }
}
