package org.qft4j.qft;

import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.qft4j.Device;

/**
 * CPU cost of QFT's state updates on one LLaMA-7B-shaped matrix: the fused quantized Lion step, the lazy outlier
 * re-selection it is amortised against, gradient quantization from a Java array, and dequantization into one
 * (what the Java engine does per weight per step).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class QftCpuBench {
    @Param({"4096"})
    int rows;

    @Param({"4096"})
    int cols;

    HybridWeight weight;
    Int8Blocks grad, momentum;
    QuantLion lion;
    float[] gradient, dense;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] w = new float[rows * cols];
        gradient = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.02 * rnd.nextGaussian() / Math.sqrt((Math.pow(rnd.nextGaussian(), 2) + 1e-3)));
            gradient[i] = (float) (1e-2 * rnd.nextGaussian());
        }
        dense = new float[rows * cols];
        weight = HybridWeight.quantize(w, rows, cols, HybridConfig.DEFAULT);
        grad = Int8Blocks.quantize(gradient, rows, cols, Int8Blocks.DEFAULT_BLOCK, false);
        momentum = Int8Blocks.zeros(Device.CPU, rows, cols, Int8Blocks.DEFAULT_BLOCK);
        lion = new QuantLion(Device.CPU, LionConfig.of(1e-5f).withWeightDecay(0.1f));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        lion.close();
        momentum.close();
        grad.close();
        weight.close();
    }

    @Benchmark
    public void quantLionStep() {
        lion.step(List.of(new QuantLion.Param(0, weight, grad, momentum)));
    }

    @Benchmark
    public void reselectOutliers() {
        weight.reselectOutliers();
    }

    @Benchmark
    public void quantizeGradientFromArray() {
        grad.quantizeFrom(gradient);
    }

    @Benchmark
    public float[] dequantizeIntoArray() {
        weight.dequantize(dense);
        return dense;
    }
}
