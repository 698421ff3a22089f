package org.qft4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.qft4j.llama.Llama2cFormat;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.Tokenizer;
import org.qft4j.oracle.TorchLlama;
import org.qft4j.train.BatchSampler;
import org.qft4j.train.ClipMode;
import org.qft4j.train.OptimizerKind;
import org.qft4j.train.Sequence;
import org.qft4j.train.SyntheticTokenizer;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.Trainer;
import org.qft4j.train.TrainingData;
import org.qft4j.train.UpdatePolicy;

/**
 * Training tokens/s on the CPU: qft4j's trainer (QFT with the STASH and FUSED_PER_LAYER policies, fp32 AdamW in the
 * same engine) vs LibTorch fp32 AdamW (autograd + torch::optim::AdamW) training the same stories260K model on the
 * same batches (8 x 128 tokens of Emma, sampled by the same {@link BatchSampler} seed), in the same run. One
 * invocation is {@link #STEPS} optimizer steps; scores are tokens/s. qft4j clips (STASH/AdamW: global norm,
 * FUSED: per tensor) and LibTorch does not, so the comparison slightly favours LibTorch.
 * Run: bench/run-jmh.sh TrainCpuBench -f 1 -wi 2 -i 3 (needs -Dqft4j.shared=PATH/shared, default ../shared).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class TrainCpuBench {
    static final int BATCH = 8, SEQ = 128, STEPS = 4;

    /** The model and the first ~64 KB of Emma as 128-token training sequences. */
    @State(Scope.Benchmark)
    public static class Data {
        LlamaWeights weights;
        List<Sequence> sequences;

        @Setup
        public void load() throws Exception {
            Path shared = Path.of(System.getProperty("qft4j.shared", "../shared"));
            weights = Llama2cFormat.load(shared.resolve("models/stories260K/stories260K.bin"));
            Tokenizer tok = Tokenizer.load(shared.resolve("models/stories260K/tok512.bin"));
            String text = Files.readString(shared.resolve("data/austen/emma.txt"));
            sequences = TrainingData.pack(List.of(text.substring(0, Math.min(text.length(), 64_000))), SyntheticTokenizer.encoder(tok), SEQ);
            sequences = sequences.stream().filter(s -> s.length() == SEQ).toList();
        }
    }

    /** A fresh qft4j trainer per invocation (built outside the timing), run for STEPS steps without validation. */
    @State(Scope.Thread)
    public static class Ours {
        @Param({"QFT_STASH", "QFT_FUSED_PER_LAYER", "FP32_ADAMW"})
        public String variant;
        Trainer trainer;

        @Setup(Level.Invocation)
        public void build(Data d) {
            TrainConfig.Builder b = TrainConfig.builder().steps(STEPS).batchSize(BATCH).seqLen(SEQ).learningRate(3e-4).seed(1);
            switch (variant) {
                case "QFT_STASH" -> b.optimizer(OptimizerKind.QFT_LION);
                case "QFT_FUSED_PER_LAYER" -> b.optimizer(OptimizerKind.QFT_LION).updatePolicy(UpdatePolicy.FUSED_PER_LAYER)
                        .clip(ClipMode.PER_TENSOR_NORM, 1.0);
                case "FP32_ADAMW" -> b.optimizer(OptimizerKind.FP32_ADAMW).learningRate(2e-3);
                default -> throw new IllegalArgumentException(variant);
            }
            trainer = new Trainer(b.build(), d.weights, new TrainingData.Split(d.sequences, List.of()));
        }

        @TearDown(Level.Invocation)
        public void close() {
            trainer.close();
        }
    }

    /** LibTorch's copy of the model with torch::optim::AdamW (lr 2e-3, betas 0.9/0.999, eps 1e-8, no weight decay). */
    @State(Scope.Thread)
    public static class Torch {
        TorchLlama model;
        AdamW optimizer;
        BatchSampler sampler;

        @Setup
        public void build(Data d) {
            torch.set_num_threads(Runtime.getRuntime().availableProcessors());
            model = new TorchLlama(d.weights);
            AdamWOptions o = new AdamWOptions(2e-3);
            o.weight_decay().put(0.0);
            optimizer = new AdamW(new TensorVector(model.parameters().toArray(new Tensor[0])), o);
            sampler = new BatchSampler(d.sequences, 1);
        }
    }

    @Benchmark
    @OperationsPerInvocation(STEPS * BATCH * SEQ)
    public double qft4j(Ours o) {
        return o.trainer.run().after().loss();
    }

    @Benchmark
    @OperationsPerInvocation(STEPS * BATCH * SEQ)
    public float libtorchAdamW(Torch t) {
        float last = 0;
        for (int s = 0; s < STEPS; s++) {
            try (PointerScope scope = new PointerScope()) {
                int[] tokens = new int[BATCH * SEQ], targets = new int[BATCH * SEQ];
                List<Sequence> batch = t.sampler.next(BATCH);
                for (int b = 0; b < BATCH; b++) {
                    System.arraycopy(batch.get(b).inputs(), 0, tokens, b * SEQ, SEQ);
                    System.arraycopy(batch.get(b).targets(), 0, targets, b * SEQ, SEQ);
                }
                t.optimizer.zero_grad();
                Tensor loss = t.model.loss(tokens, targets, BATCH, SEQ);
                loss.backward();
                t.optimizer.step();
                last = loss.item_float();
            }
        }
        return last;
    }
}
