package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.qft4j.train.Gpt2Encoder;
import org.qft4j.train.TokenFile;

/**
 * {@code tokenize --encoding gpt2 --data PATH --out FILE}: a text corpus as a token file (little-endian int32) that
 * the GPU training benchmark and its PyTorch peer both read, so they train on the same tokens.
 */
final class TokenizeCommand {
    static final String USAGE = """
              tokenize --encoding gpt2 --data FILE_OR_DIR --out FILE
                                                    a text corpus (a folder: its .txt files) as little-endian int32 GPT-2 BPE ids""";

    private TokenizeCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = new Options("tokenize", args, Set.of("--encoding", "--data", "--out"));
        String encoding = o.get("--encoding", "gpt2");
        if (!encoding.equals("gpt2")) throw new IllegalArgumentException("tokenize: unknown --encoding '" + encoding + "' (known: gpt2)");
        Path file = Path.of(o.required("--out"));
        long t0 = System.nanoTime();
        int[] tokens = TokenFile.tokenize(List.of(Path.of(o.required("--data"))), new Gpt2Encoder());
        TokenFile.write(file, tokens);
        out.printf("tokens %d%nvocabulary %d (gpt2, r50k_base)%nfile %s (%d bytes)%nseconds %.1f%n", tokens.length, Gpt2Encoder.VOCAB_SIZE,
                file, 4L * tokens.length, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
