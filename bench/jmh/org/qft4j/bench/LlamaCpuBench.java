package org.qft4j.bench;

import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.qft4j.llama.Fp32Matrix;
import org.qft4j.llama.Llama2cFormat;
import org.qft4j.llama.LlamaModel;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.llama.WeightMatrix;
import org.qft4j.oracle.TorchLlama;

/**
 * Tokens/s of a teacher-forced forward and of forward+backward on stories260K, qft4j's CPU engine vs LibTorch (CPU,
 * autograd, same weights, same batch, same threads) in the same run. Both forwards keep what backward needs (qft4j's
 * activation buffers, LibTorch's autograd graph). Each invocation processes BATCH * T tokens; scores are tokens/s.
 * Run: bench/run-jmh.sh LlamaCpuBench, or java -cp test-classes:classes:deps org.openjdk.jmh.Main LlamaCpuBench
 * (needs -Dqft4j.shared=PATH/shared, default ../shared).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LlamaCpuBench {
    static final int BATCH = 4, T = 256;

    /** qft4j's activation recomputation (the LibTorch benchmarks ignore it). */
    @Param({"false"})
    public boolean recompute;

    private LlamaWeights weights;
    private LlamaModel model;
    private TorchLlama torchModel;
    private int[] tokens, targets;

    @Setup
    public void setup() throws Exception {
        weights = Llama2cFormat.load(Path.of(System.getProperty("qft4j.shared", "../shared"), "models/stories260K/stories260K.bin"));
        model = new LlamaModel(weights, BATCH, T, recompute);
        torchModel = new TorchLlama(weights);
        org.bytedeco.pytorch.global.torch.set_num_threads(Runtime.getRuntime().availableProcessors());
        Random r = new Random(1);
        tokens = new int[BATCH * T];
        targets = new int[BATCH * T];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = r.nextInt(weights.config.vocabSize());
            targets[i] = r.nextInt(weights.config.vocabSize());
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH * T)
    public float qft4jForward() {
        return model.forward(tokens, targets, BATCH, T);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH * T)
    public float qft4jForwardBackward() {
        for (WeightMatrix m : weights.matricesInForwardOrder()) ((Fp32Matrix) m).zeroGradient();
        weights.zeroNormGradients();
        float loss = model.forward(tokens, targets, BATCH, T);
        model.backward();
        return loss;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH * T)
    public float torchForward() {
        try (PointerScope scope = new PointerScope()) {
            return torchModel.loss(tokens, targets, BATCH, T).item_float();
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH * T)
    public float torchForwardBackward() {
        try (PointerScope scope = new PointerScope()) {
            for (Tensor p : torchModel.parameters()) if (p.grad().defined()) p.grad().zero_();
            Tensor loss = torchModel.loss(tokens, targets, BATCH, T);
            loss.backward();
            return loss.item_float();
        }
    }
}
