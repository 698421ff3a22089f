package org.qft4j.llama;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.qft4j.llama.hf.HfLlama;

/**
 * Fuzzes the model-side loaders that read untrusted files: the llama2.c tokenizer and checkpoint, an HF
 * directory's config.json, and a Hugging Face tokenizer.json (qft4j's JSON reader, then the native tokenizers library). Whatever the bytes, each either loads or throws {@link CheckpointFormatException};
 * never another exception, never an out-of-memory error from a size it read. Plain {@code mvn verify}
 * replays the corpus (if any) under tests/resources; {@code JAZZER_FUZZ=1} fuzzes.
 */
class LoaderFuzzTest {
    private static final Path DIR = tempDir();

    private static Path tempDir() {
        try {
            Path d = Files.createTempDirectory("qft4j-loader-fuzz");
            d.toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path write(String name, byte[] input) {
        try {
            Path p = DIR.resolve(name);
            Files.write(p, input);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "90s")
    void tokenizerThrowsOnlyFormatErrors(byte[] input) throws IOException {
        try {
            Tokenizer t = Tokenizer.load(write("tok.bin", input));
            assertTrue(t != null);
        } catch (CheckpointFormatException expected) {
            // the only acceptable failure
        }
    }

    /**
     * A tokenizer.json that loads also encodes (or says why it cannot: a vocabulary without byte fallback or unknown
     * token cannot hold every character) and decodes its ids; the native handle is closed every time.
     */
    @FuzzTest(maxDuration = "90s")
    void hfTokenizerJsonThrowsOnlyFormatErrors(byte[] input) throws IOException {
        try (HfTokenizer t = HfTokenizer.load(write("tokenizer.json", input))) {
            int[] ids;
            try {
                ids = t.encode("One day, a fox found <0x41> 日本 🙂", false, false);
            } catch (IllegalArgumentException unencodable) {
                assertTrue(unencodable.getMessage().contains("cannot encode the text"), unencodable.getMessage());
                return;
            }
            for (int id : ids) assertTrue(id >= 0 && id < t.vocabSize(), "id " + id);
            t.decodeAll(-1, ids);
        } catch (CheckpointFormatException expected) {
            // the only acceptable failure of loading
        }
    }

    @FuzzTest(maxDuration = "90s")
    void llama2cCheckpointThrowsOnlyFormatErrors(byte[] input) throws IOException {
        try {
            LlamaWeights w = Llama2cFormat.load(write("model.bin", input));
            assertTrue(w.config.dim() > 0);
        } catch (CheckpointFormatException expected) {
            // the only acceptable failure
        }
    }

    @FuzzTest(maxDuration = "90s")
    void hfConfigThrowsOnlyFormatErrors(byte[] input) throws IOException {
        Path dir = DIR.resolve("hf");
        Files.createDirectories(dir);
        Files.write(dir.resolve("config.json"), input);
        try {
            HfLlama.read(dir); // no weights in the directory: at best the config passes and the tensors are missing
        } catch (CheckpointFormatException expected) {
            // the only acceptable failure
        }
    }
}
