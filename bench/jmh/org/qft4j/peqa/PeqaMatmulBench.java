package org.qft4j.peqa;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.qft4j.Device;
import org.qft4j.nativ.PeqaNative;

/**
 * CPU: PEQA's b-bit dequantize-in-the-matmul (PeqaMatrix.matmul, heap in/out copies included) and its
 * fused scale gradient against LibTorch's fp32 matmul of the same (dequantized) weight, y = x Wᵀ.
 * Run: bench/run-jmh.sh PeqaMatmulBench -f 1 -wi 2 -i 3
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PeqaMatmulBench {
    @Param({"4", "3"})
    int bits;
    @Param({"1", "64"})
    int tokens;
    @Param({"2048"})
    int dim;

    PeqaMatrix m;
    float[] x, y, dy;
    Tensor xt, wt;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] w = new float[dim * dim];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.02);
        x = new float[tokens * dim];
        dy = new float[tokens * dim];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < dy.length; i++) dy[i] = (float) rnd.nextGaussian();
        y = new float[tokens * dim];
        m = PeqaMatrix.quantize(Device.CPU, w, dim, dim, bits, 128);
        PeqaNative.qft_peqa_cpu_reference(0);
        xt = torch.tensor(x).reshape(tokens, dim);
        wt = torch.tensor(m.weight().dequantize()).reshape(dim, dim);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        m.close();
    }

    @Benchmark
    public float[] peqaForward() {
        m.matmul(x, tokens, y);
        return y;
    }

    @Benchmark
    public float[] peqaScaleGradient() {
        m.accumulateGradient(dy, x, tokens);
        return m.scaleGrad();
    }

    @Benchmark
    public Tensor libTorchFp32Forward() {
        return torch.matmul(xt, wt.t()).contiguous();
    }
}
