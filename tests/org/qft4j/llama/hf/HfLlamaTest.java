package org.qft4j.llama.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.checkpoint.Json;
import org.qft4j.checkpoint.TensorBuffer;
import org.qft4j.llama.CheckpointFormatException;
import org.qft4j.llama.Llama2cFormat;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.ModelLoader;
import org.qft4j.llama.Perplexity;
import org.qft4j.llama.RopeLayout;
import org.qft4j.llama.Tokenizer;

class HfLlamaTest {
    @TempDir Path dir;

    private static Path shared(String rel) {
        String root = System.getProperty("qft4j.shared");
        assumeTrue(root != null && Files.exists(Path.of(root, rel)), rel + " is absent");
        return Path.of(root, rel);
    }

    @Test
    void stories260KRoundTripKeepsPerplexity() throws Exception {
        LlamaWeights meta = Llama2cFormat.load(shared("models/stories260K/stories260K.bin"));
        Tokenizer tok = Tokenizer.load(shared("models/stories260K/tok512.bin"));
        String text = Files.readString(shared("data/moby-dick/chapter_1.txt"));
        HfLlama.write(meta, dir, "F32");
        LlamaWeights hf = ModelLoader.load(dir);
        assertEquals(RopeLayout.ROTATE_HALF, hf.config.ropeLayout());
        assertTrue(hf.config.sharedClassifier());
        double a = Perplexity.evaluate(meta, tok, text).perplexity(), b = Perplexity.evaluate(hf, tok, text).perplexity();
        assertEquals(a, b, a * 1e-6, "llama2.c " + a + " vs HF round trip " + b);
        assertEquals(41.400190, b, 41.400190 * 1e-4);
    }

    @Test
    void shardedBf16UntiedDirectoryLoads() throws Exception {
        LlamaConfig cfg = new LlamaConfig(16, 24, 2, 4, 2, 20, 16, 1e-5f, 10000f, RopeLayout.ADJACENT_PAIRS, false);
        LlamaWeights w = LlamaWeights.random(cfg, 3, 0.3f);
        HfLlama.write(w, dir.resolve("one"), "BF16");
        // split the single file into two shards with an index, as large checkpoints come
        Map<String, Object> weightMap = new LinkedHashMap<>();
        Map<String, TensorBuffer> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        int i = 0;
        for (var e : HfLlama.readSafetensors(dir.resolve("one/model.safetensors")).tensors().entrySet()) {
            boolean first = i++ % 2 == 0;
            (first ? a : b).put(e.getKey(), TensorBuffer.ofBytes(e.getValue().dtype(), e.getValue().toBytes(), e.getValue().shape()));
            weightMap.put(e.getKey(), first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        }
        Path sharded = dir.resolve("sharded");
        Files.createDirectories(sharded);
        Files.copy(dir.resolve("one/config.json"), sharded.resolve("config.json"));
        HfLlama.writeSafetensors(sharded.resolve("model-00001-of-00002.safetensors"), a, Map.of());
        HfLlama.writeSafetensors(sharded.resolve("model-00002-of-00002.safetensors"), b, Map.of());
        Files.writeString(sharded.resolve("model.safetensors.index.json"), Json.write(Map.of("metadata", Map.of(), "weight_map", weightMap)));

        LlamaWeights one = HfLlama.read(dir.resolve("one")), two = HfLlama.read(sharded);
        assertTrue(!two.config.sharedClassifier());
        int[] ids = {1, 5, 7, 3, 19, 2, 4, 8};
        int[] targets = {5, 7, 3, 19, 2, 4, 8, 11};
        float l1 = new LlamaModel(one, 1, 8, false).forward(ids, targets, 1, 8);
        float l2 = new LlamaModel(two, 1, 8, false).forward(ids, targets, 1, 8);
        float l0 = new LlamaModel(w, 1, 8, false).forward(ids, targets, 1, 8);
        assertEquals(l1, l2, 0f, "sharded and single-file reads give the same model");
        assertEquals(l0, l1, 0.02 * l0, "bf16 rounding changes the loss only slightly");
    }

    @Test
    void f16TensorsConvert() throws Exception {
        String header = "{\"x\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json).putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x0001).putShort((short) 0x7BFF);
        Path p = dir.resolve("h.safetensors");
        Files.write(p, b.array());
        float[] v = HfLlama.readSafetensors(p).tensors().get("x").toFloats();
        assertEquals(1f, v[0]);
        assertEquals(-2f, v[1]);
        assertEquals(0x1p-24f, v[2]);
        assertEquals(65504f, v[3]);
    }

    @Test
    void corruptSafetensorsAreRefused() throws Exception {
        String[] bad = {
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}",   // size does not match shape
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,400]}}",  // beyond the data
            "{\"x\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}",    // unknown dtype
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", // overlap
            "{\"x\": [1, 2",                                                      // not JSON
        };
        for (String h : bad) {
            byte[] json = h.getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocate(8 + json.length + 16).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(json.length).put(json);
            Path p = dir.resolve("bad.safetensors");
            Files.write(p, b.array());
            assertThrows(CheckpointFormatException.class, () -> HfLlama.readSafetensors(p), h);
        }
        Path p = dir.resolve("short.safetensors");
        Files.write(p, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        assertTrue(assertThrows(CheckpointFormatException.class, () -> HfLlama.readSafetensors(p)).getMessage().contains("header length 1000"));
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        LlamaConfig cfg = new LlamaConfig(16, 24, 1, 4, 2, 20, 16, 1e-5f, 10000f, RopeLayout.ROTATE_HALF, true);
        HfLlama.write(LlamaWeights.random(cfg, 3, 0.3f), dir, "F32");
        Map<String, TensorBuffer> keep = new LinkedHashMap<>();
        for (var e : HfLlama.readSafetensors(dir.resolve("model.safetensors")).tensors().entrySet())
            if (!e.getKey().endsWith("mlp.up_proj.weight")) keep.put(e.getKey(), TensorBuffer.ofFloats(e.getValue().toFloats(), e.getValue().shape()));
        HfLlama.writeSafetensors(dir.resolve("model.safetensors"), keep, Map.of());
        String msg = assertThrows(CheckpointFormatException.class, () -> HfLlama.read(dir)).getMessage();
        assertTrue(msg.contains("model.layers.0.mlp.up_proj.weight"), msg);
    }
}
