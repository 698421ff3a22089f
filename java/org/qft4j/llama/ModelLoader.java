package org.qft4j.llama;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.qft4j.Device;
import org.qft4j.llama.hf.HfLlama;
import org.qft4j.peqa.PeqaFile;
import org.qft4j.peqa.PeqaModel;

/**
 * Opens a model by what the path is: a Hugging Face LLaMA directory, a PEQA b-bit export (its block matrices stay
 * b-bit, on the CPU) or a llama2.c checkpoint file.
 */
public final class ModelLoader {
    private ModelLoader() {}

    public static LlamaWeights load(Path path) throws IOException {
        if (Files.isDirectory(path)) return HfLlama.read(path);
        if (!Files.isRegularFile(path)) throw new CheckpointFormatException(path + ": no such model file or directory");
        if (PeqaFile.isPeqaFile(path)) return PeqaModel.load(path, Device.CPU);
        return Llama2cFormat.load(path);
    }
}
