package org.qft4j.bench;

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
import org.qft4j.Cuda;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.nativ.CoreNative;
import org.qft4j.ops.Int8Matmul;
import org.qft4j.ops.Int8Matmul.Kernel;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * The Java -> JNI -> kernel path of the scaled INT8 matmul on cuda:0 (bf16 output, the training path), per CUDA
 * kernel, on the LLaMA-7B shapes with 4096 tokens ("MxNxK"). The device is synchronised inside the measured
 * method, so a score is launch + kernel + sync. Needs a GPU: run {@code bench/run-jmh.sh Int8MatmulGpuBench} on the GPU host;
 * the native bench bench_int8_matmul has the kernel-only times and the cuBLASLt peer.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class Int8MatmulGpuBench {
    @Param({"4096x4096x4096", "4096x11008x4096", "4096x4096x11008", "8192x8192x8192"})
    public String shape;

    @Param({"CUDA_TMA", "CUDA_WGMMA", "CUDA_MMA"})
    public String impl;

    private Tensor a, b, rowScale, colScale, y;
    private Kernel kernel;
    private Device gpu;

    @Setup(Level.Trial)
    public void setup() {
        Cuda.Status s = Cuda.status();
        if (!s.usable()) throw new IllegalStateException("Int8MatmulGpuBench needs a GPU: " + s.reason());
        gpu = Device.cuda(0);
        kernel = Kernel.valueOf(impl);
        if (!Int8Matmul.hasKernel(gpu, kernel)) throw new IllegalStateException(impl + " is not available on " + s.gpus().get(0));
        String[] d = shape.split("x");
        int m = Integer.parseInt(d[0]), n = Integer.parseInt(d[1]), k = Integer.parseInt(d[2]);
        try (Tensor ha = Tensor.of(Device.CPU, Int8MatmulBench.randomBytes(m * k, 1), m, k);
             Tensor hb = Tensor.of(Device.CPU, Int8MatmulBench.randomBytes(n * k, 2), n, k);
             Tensor hr = Tensor.of(Device.CPU, Int8MatmulBench.filled(m, 1e-3f), m);
             Tensor hc = Tensor.of(Device.CPU, Int8MatmulBench.filled(n, 1e-3f), n)) {
            a = ha.to(gpu);
            b = hb.to(gpu);
            rowScale = hr.to(gpu);
            colScale = hc.to(gpu);
        }
        y = Tensor.zeros(gpu, DType.BF16, m, n);
    }

    @Benchmark
    public void matmul() {
        Int8Matmul.matmulInto(a, rowScale, b, colScale, null, y, false, kernel);
        NativeStatus.check(CoreNative.qft_synchronize(gpu.nativeId()), "synchronize");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.println("\n[" + impl + " " + shape + "] kernel that ran: " + Int8Matmul.lastKernel());
        for (Tensor t : new Tensor[] {a, b, rowScale, colScale, y}) if (t != null) t.close();
    }
}
