package org.qft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import org.qft4j.Device;
import org.qft4j.Diagnostics;

/**
 * {@code java -jar qft4j.jar COMMAND [options]}. The only place in qft4j that calls System.exit;
 * every command is a method returning its exit status, so it can be embedded and tested.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage(out);
            return args.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (args[0]) {
                case "diagnose":
                    return diagnose(rest, out);
                case "train":
                    return TrainCommands.train(rest, out);
                case "eval":
                    return EvalCommand.run(rest, out);
                case "generate":
                    return GenerateCommand.run(rest, out);
                case "tokenize":
                    return TokenizeCommand.run(rest, out);
                case "convert-tokenizer":
                    return ConvertTokenizerCommand.run(rest, out);
                default:
                    err.println("unknown command '" + args[0] + "'");
                    usage(err);
                    return 2;
            }
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (IOException | java.io.UncheckedIOException | org.qft4j.Qft4jException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    static int diagnose(String[] args, PrintStream out) {
        Device requested = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--device") && i + 1 < args.length) requested = Device.parse(args[++i]);
            else throw new IllegalArgumentException("diagnose: unknown option '" + args[i] + "' (use --device cpu|cuda|cuda:N)");
        }
        List<String> lines = Diagnostics.report(requested);
        lines.forEach(out::println);
        return lines.stream().anyMatch(l -> l.startsWith("!")) ? 1 : 0;
    }

    static void usage(PrintStream out) {
        out.println("usage: java -jar qft4j.jar COMMAND [options]");
        out.println("commands:");
        out.println("  diagnose [--device cpu|cuda|cuda:N]   what qft4j can use here; exit 1 if the device is unusable");
        out.println(TrainCommands.TRAIN_USAGE);
        out.println("  eval --model M --tokenizer T --text FILE [--device cpu|cuda|cuda:N|auto]");
        out.println("                                        perplexity of a text (paragraphs, BOS each, <= 512 tokens)");
        out.println("  generate --model M --tokenizer T [--prompt TEXT] [--temperature 1] [--steps 256] [--top-p 0.9] [--seed S]");
        out.println("                                        sample a continuation (temperature 0: greedy)");
        out.println(TokenizeCommand.USAGE);
        out.println("  convert-tokenizer --tokenizer T.bin --out tokenizer.json");
        out.println("                                        a llama2.c tokenizer as a Hugging Face tokenizer.json");
        out.println("  M: a llama2.c .bin (version 0 fp32 or version 2 int8) or a Hugging Face LLaMA directory; T: llama2.c tokenizer.bin,");
        out.println("     a Hugging Face tokenizer.json or a directory holding one");
    }
}
