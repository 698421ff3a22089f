package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Set;
import org.qft4j.llama.TokenizerJson;

/** {@code convert-tokenizer --tokenizer T.bin --out tokenizer.json}: a llama2.c tokenizer as a Hugging Face tokenizer.json. */
final class ConvertTokenizerCommand {
    private ConvertTokenizerCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = new Options("convert-tokenizer", args, Set.of("--tokenizer", "--out"));
        Path in = Path.of(o.required("--tokenizer")), to = Path.of(o.required("--out"));
        TokenizerJson.convert(in, to);
        out.println("wrote " + to);
        return 0;
    }
}
