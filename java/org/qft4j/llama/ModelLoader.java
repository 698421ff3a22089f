package org.qft4j.llama;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.qft4j.llama.hf.HfLlama;

/** Opens a model by what the path is: a Hugging Face LLaMA directory or a llama2.c checkpoint file. */
public final class ModelLoader {
    private ModelLoader() {}

    public static LlamaWeights load(Path path) throws IOException {
        if (Files.isDirectory(path)) return HfLlama.read(path);
        if (!Files.isRegularFile(path)) throw new CheckpointFormatException(path + ": no such model file or directory");
        return Llama2cFormat.load(path);
    }
}
