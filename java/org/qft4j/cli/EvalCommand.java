package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.qft4j.Device;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.TextTokenizer;
import org.qft4j.llama.device.DevicePerplexity;

/**
 * {@code eval --model M --tokenizer T --text FILE [--device cpu|cuda|cuda:N|auto]}: text perplexity with the reference
 * protocol (see {@link Perplexity}); on the Java engine, or with --device on the native engine (DeviceLlama).
 */
final class EvalCommand {
    private EvalCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = new Options("eval", args, Set.of("--model", "--tokenizer", "--text", "--device"));
        String spec = o.get("--device", null);
        Device device = spec == null ? null : Device.parse(spec);
        LlamaWeights w = ModelLoader.load(Path.of(o.required("--model")));
        String text = Files.readString(Path.of(o.required("--text")), StandardCharsets.UTF_8);
        Perplexity.Result r;
        try (TextTokenizer tok = TextTokenizer.load(Path.of(o.required("--tokenizer")), w.config.vocabSize())) {
            r = device == null ? Perplexity.evaluate(w, tok, text) : DevicePerplexity.evaluate(w, tok, text, device);
        }
        out.printf("paragraphs %d%npredicted_tokens %d%nmean_nll %.6f%nperplexity %.6f%n", r.paragraphs(), r.predicted(), r.meanNll(), r.perplexity());
        return 0;
    }
}
