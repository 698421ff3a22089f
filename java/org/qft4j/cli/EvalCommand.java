package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.TextTokenizer;

/** {@code eval --model M --tokenizer T --text FILE}: text perplexity with the reference protocol (see {@link Perplexity}). */
final class EvalCommand {
    private EvalCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = new Options("eval", args, Set.of("--model", "--tokenizer", "--text"));
        LlamaWeights w = ModelLoader.load(Path.of(o.required("--model")));
        String text = Files.readString(Path.of(o.required("--text")), StandardCharsets.UTF_8);
        Perplexity.Result r;
        try (TextTokenizer tok = TextTokenizer.load(Path.of(o.required("--tokenizer")), w.config.vocabSize())) {
            r = Perplexity.evaluate(w, tok, text);
        }
        out.printf("paragraphs %d%npredicted_tokens %d%nmean_nll %.6f%nperplexity %.6f%n", r.paragraphs(), r.predicted(), r.meanNll(), r.perplexity());
        return 0;
    }
}
