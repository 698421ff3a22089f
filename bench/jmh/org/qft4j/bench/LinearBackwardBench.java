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
import org.qft4j.Cuda;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.llama.device.DeviceOps;
import org.qft4j.llama.device.Fp32Math;
import org.qft4j.llama.device.Int8Backward;
import org.qft4j.llama.device.Int8Backward.BackwardMatmuls;
import org.qft4j.llama.device.OutlierProducts;
import org.qft4j.llama.device.QftLinear;
import org.qft4j.nativ.CoreNative;
import org.qft4j.qft.HybridConfig;
import org.qft4j.qft.HybridWeight;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * The backward of one QFT linear layer y = x Wᵀ (hybrid INT8 W, 1% fp32 outliers) through the Java API, in each
 * {@link BackwardMatmuls} mode: dX = dY W and dW = dYᵀ X, fp32 (dequantized W, fp32 matmuls; {@code mode=TF32}: those
 * matmuls in {@link Fp32Math#TF32}, on the GPU's tensor cores) or on the INT8 GEMM
 * ({@link Int8Backward}), and the peer in the same run on the CPU: LibTorch's fp32 at::mm_out for both products (all cores,
 * {@code mode=TORCH_F32}). {@code caseSpec} is DEVICE:TOKENS:OUTxIN; the device is synchronised inside the measured method.
 * CPU: {@code bench/run-jmh.sh LinearBackwardBench}; the H100 (LLaMA-7B shapes, 2048 tokens):
 * {@code bench/run-jmh.sh LinearBackwardBench -p caseSpec=cuda:2048:4096x4096,cuda:2048:11008x4096,cuda:2048:4096x11008}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class LinearBackwardBench {
    @Param({"cpu:256:1024x1024"})
    public String caseSpec;

    @Param({"FP32", "TF32", "INT8_INPUT", "INT8", "TORCH_F32"})
    public String mode;

    private Device device;
    private int tokens;
    private BackwardMatmuls matmuls;
    private Fp32Math math;  // of the fp32 products: TF32 for mode TF32 (fp32 backward matmuls on tensor cores)
    private HybridWeight w;
    private QftLinear linear;
    private Int8Backward int8;
    private Tensor dy, x, dx, dw, scratch;
    private org.bytedeco.pytorch.Tensor tw, tdy, tx, tdx, tdw;  // the peer: W (out, in), dY (n, out), X (n, in), dX, dW

    @Setup(Level.Trial)
    public void setup() {
        String[] c = caseSpec.split(":"), shape = c[2].split("x");
        device = Device.parse(c[0]);
        if (device.isCuda() && !Cuda.status().usable()) throw new IllegalStateException("LinearBackwardBench: no GPU: " + Cuda.status().reason());
        tokens = Integer.parseInt(c[1]);
        int out = Integer.parseInt(shape[0]), in = Integer.parseInt(shape[1]);
        if (mode.equals("TORCH_F32")) {
            if (device.isCuda()) throw new IllegalStateException("LinearBackwardBench: the LibTorch peer runs on the CPU only");
            tw = torch.randn(out, in);
            tdy = torch.randn(tokens, out);
            tx = torch.randn(tokens, in);
            tdx = torch.empty(tokens, in);
            tdw = torch.empty(out, in);
            return;
        }
        matmuls = mode.equals("TF32") ? BackwardMatmuls.FP32 : BackwardMatmuls.valueOf(mode);
        math = mode.equals("TF32") ? Fp32Math.TF32 : Fp32Math.FP32;
        try (Tensor hw = Tensor.of(Device.CPU, gaussian(out * in, 1, 0.02f), out, in);
             Tensor hdy = Tensor.of(Device.CPU, gaussian(tokens * out, 2, 1f), tokens, out);
             Tensor hx = Tensor.of(Device.CPU, gaussian(tokens * in, 3, 1f), tokens, in);
             Tensor dw0 = hw.to(device)) {
            w = HybridWeight.quantize(dw0, HybridConfig.DEFAULT);
            dy = hdy.to(device);
            x = hx.to(device);
        }
        linear = new QftLinear(w, tokens);
        int8 = new Int8Backward(device, tokens, out, in, (long) out * in, w.nnz());
        dx = Tensor.zeros(device, DType.F32, tokens, in);
        dw = Tensor.zeros(device, DType.F32, out, in);
        scratch = Tensor.zeros(device, DType.F32, (long) out * in);
    }

    @Benchmark
    public void backward() {
        if (matmuls == null) {
            torch.mm_out(tdx, tdy, tw);
            torch.mm_out(tdw, tdy.t(), tx);
            return;
        }
        if (matmuls == BackwardMatmuls.FP32) linear.backwardInput(dy, tokens, dx, false, scratch, math);
        else int8.input(w, dy, tokens, dx, false, OutlierProducts.FP32_SPARSE);
        if (matmuls == BackwardMatmuls.INT8) int8.weight(dy, x, tokens, dw, false);
        else DeviceOps.linearBackwardWeight(dy, x, tokens, dw, false, math);
        if (device.isCuda()) NativeStatus.check(CoreNative.qft_synchronize(device.nativeId()), "synchronize");
    }

    static float[] gaussian(int n, long seed, float std) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * std);
        return v;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (AutoCloseable a : new AutoCloseable[] {linear, int8, w, dy, x, dx, dw, scratch}) {
            try {
                if (a != null) a.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
