package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Set;
import org.qft4j.llama.Generation;
import org.qft4j.llama.LlamaGenerator;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Sampler;
import org.qft4j.llama.TextTokenizer;

/**
 * {@code generate --model M --tokenizer T --prompt "..." [--temperature 0] [--steps N] [--top-p P] [--seed S]}:
 * llama2.c run.c's generation (prints the prompt's continuation as run.c does).
 */
final class GenerateCommand {
    private GenerateCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = new Options("generate", args, Set.of("--model", "--tokenizer", "--prompt", "--temperature", "--steps", "--top-p", "--seed"));
        LlamaWeights w = ModelLoader.load(Path.of(o.required("--model")));
        int steps = (int) o.getLong("--steps", 256);
        Sampler sampler = new Sampler(w.config.vocabSize(), o.getFloat("--temperature", 1f), o.getFloat("--top-p", 0.9f), o.getLong("--seed", System.nanoTime()));
        Generation.Result r;
        try (TextTokenizer tok = TextTokenizer.load(Path.of(o.required("--tokenizer")), w.config.vocabSize())) {
            r = Generation.generate(new LlamaGenerator(w), tok, o.get("--prompt", ""), Math.min(steps, w.config.seqLen()), sampler);
        }
        out.println(r.text());
        return 0;
    }
}
