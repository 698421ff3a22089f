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
 * b-bit, on the CPU), a qft4j INT8 hybrid inference checkpoint ({@code .safetensors}, see {@link Int8HybridFormat})
 * or a llama2.c checkpoint file.
 */
public final class ModelLoader {
    private ModelLoader() {}

    public static LlamaWeights load(Path path) throws IOException {
        if (Files.isDirectory(path)) return HfLlama.read(path);
        if (!Files.isRegularFile(path)) throw new CheckpointFormatException(path + ": no such model file or directory");
        if (PeqaFile.isPeqaFile(path)) return PeqaModel.load(path, Device.CPU);
        if (path.getFileName().toString().endsWith(".safetensors")) {
            org.qft4j.checkpoint.SafetensorsFile f = HfLlama.readSafetensors(path);
            if (!Int8HybridFormat.is(f))
                throw new CheckpointFormatException(path + ": a safetensors file without '" + Int8HybridFormat.FORMAT_KEY
                        + "' metadata; pass the Hugging Face directory that holds it instead");
            return Int8HybridFormat.read(f);
        }
        return Llama2cFormat.load(path);
    }
}
