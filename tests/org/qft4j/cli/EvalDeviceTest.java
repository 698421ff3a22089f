package org.qft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.qft4j.Cuda;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;

/** {@code eval --device}: the native engine (DeviceLlama) reproduces the reference text perplexity. */
class EvalDeviceTest {
    private static String shared(String rel) {
        String root = System.getProperty("qft4j.shared");
        assumeTrue(root != null && Files.exists(Path.of(root, rel)), rel + " is absent");
        return Path.of(root, rel).toString();
    }

    private static double evalPerplexity(String device) {
        MainTest.Result r = MainTest.run("eval", "--model", shared("models/stories260K/stories260K.bin"),
                "--tokenizer", shared("models/stories260K/tok512.bin"), "--text", shared("data/moby-dick/chapter_1.txt"), "--device", device);
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.contains("paragraphs 16\npredicted_tokens 5710\n"), r.out);
        return Double.parseDouble(r.out.replaceAll("(?s).*perplexity ([0-9.]+).*", "$1"));
    }

    @Test
    void cpuDeviceMatchesReferencePerplexity() {
        assertEquals(41.400190, evalPerplexity("cpu"), 41.400190 * 1e-4);
    }

    @Test
    @GpuTest
    void cudaDeviceMatchesReferencePerplexity() {
        Gpus.require();
        assertEquals(41.400190, evalPerplexity("cuda"), 41.400190 * 1e-4);
    }

    @Test
    void unusableGpuIsAnErrorNotACrash() {
        assumeTrue(!Cuda.status().usable(), "a GPU is usable here");
        MainTest.Result r = MainTest.run("eval", "--model", shared("models/stories260K/stories260K.bin"),
                "--tokenizer", shared("models/stories260K/tok512.bin"), "--text", shared("data/moby-dick/chapter_1.txt"), "--device", "cuda");
        assertEquals(1, r.status, r.out);
        assertTrue(r.err.startsWith("error: ") && r.err.contains("cuda"), r.err);
    }

    @Test
    void unknownDeviceIsAUsageError() {
        MainTest.Result r = MainTest.run("eval", "--model", "m", "--tokenizer", "t", "--text", "x", "--device", "tpu");
        assertEquals(2, r.status, r.out);
        assertTrue(r.err.contains("unknown device 'tpu'"), r.err);
    }
}
