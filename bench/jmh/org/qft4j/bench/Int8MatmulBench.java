package org.qft4j.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.global.torch;
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
import org.qft4j.ops.Int8Matmul;
import org.qft4j.ops.Int8Matmul.Kernel;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * The Java -> JNI -> kernel path of the scaled INT8 matmul on the CPU (Y = rowScale ⊙ A Bᵀ ⊙ colScale, fp32 out),
 * per CPU kernel, with LibTorch's fp32 matmul (at::mm_out, same M, N, K, all cores) as the peer in the same run.
 * Shapes are LLaMA-7B's divided by 4 with 256 tokens, sized for a small CPU: "MxNxK".
 * GOPS = 2 M N K / time. Run: {@code bench/run-jmh.sh Int8MatmulBench} (or org.openjdk.jmh.Main on the test classpath).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g", "-XX:+UseParallelGC"})
public class Int8MatmulBench {
    @Param({"512x512x512", "1024x1024x1024", "256x1024x1024", "256x2752x1024", "256x1024x2752"})
    public String shape;

    @Param({"CPU_VNNI", "CPU_AVX2", "CPU_REF", "TORCH_F32"})
    public String impl;

    private Tensor a, b, rowScale, colScale, y;
    private org.bytedeco.pytorch.Tensor ta, tb, ty;
    private Kernel kernel;

    @Setup(Level.Trial)
    public void setup() {
        String[] d = shape.split("x");
        int m = Integer.parseInt(d[0]), n = Integer.parseInt(d[1]), k = Integer.parseInt(d[2]);
        if (impl.equals("TORCH_F32")) {
            ta = torch.randn(m, k);
            tb = torch.randn(n, k);
            ty = torch.empty(m, n);
            return;
        }
        kernel = Kernel.valueOf(impl);
        if (!Int8Matmul.hasKernel(Device.CPU, kernel)) throw new IllegalStateException(impl + " is not available on this CPU");
        a = Tensor.of(Device.CPU, randomBytes(m * k, 1), m, k);
        b = Tensor.of(Device.CPU, randomBytes(n * k, 2), n, k);
        rowScale = Tensor.of(Device.CPU, filled(m, 1e-3f), m);
        colScale = Tensor.of(Device.CPU, filled(n, 1e-3f), n);
        y = Tensor.zeros(Device.CPU, DType.F32, m, n);
    }

    @Benchmark
    public void matmul() {
        if (kernel == null) torch.mm_out(ty, ta, tb.t());
        else Int8Matmul.matmulInto(a, rowScale, b, colScale, null, y, false, kernel);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {a, b, rowScale, colScale, y}) if (t != null) t.close();
        if (kernel != null) System.out.println("\n[" + impl + " " + shape + "] kernel that ran: " + Int8Matmul.lastKernel());
    }

    static byte[] randomBytes(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] x = new byte[n];
        for (int i = 0; i < n; i++) x[i] = (byte) r.nextInt(-127, 128);
        return x;
    }

    static float[] filled(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }
}
