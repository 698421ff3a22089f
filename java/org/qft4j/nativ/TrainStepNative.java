package org.qft4j.nativ;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the training-step helpers ({@code qft4j/train_step.h}): fp64 row sums of squares of INT8
 * blocks and fp32 tensors, stochastic INT8 block quantization, in-place scaling, fp32 Lion with a gradient scale and the fused
 * policy's clip factors (scales and factors live on the device), each on the CPU (device -1) or a
 * GPU. Addresses are (device, int64) pairs from {@link CoreNative#qft_alloc}; load through {@link org.qft4j.Natives}.
 */
@Platform(include = "qft4j/train_step.h", link = "qft4j")
public final class TrainStepNative {
    private TrainStepNative() {}

    public static native int qft_int8_blocks_row_sumsq(int device, long codes, long scales, long rows, long cols, long block, long out);

    public static native int qft_f32_row_sumsq(int device, long x, long rows, long cols, long out);

    public static native int qft_int8_blocks_quantize_stochastic(int device, long x, long rows, long cols, long block, long seed,
            long step, long tensor, long row0, long codes, long scales);

    public static native int qft_f32_scale(int device, long x, long n, long alpha);

    public static native int qft_lion_fp32_scaled_step(int device, long w, long g, long m, long n, float lr, float beta1,
            float beta2, float weightDecay, long gradScale);

    public static native int qft_clip_factors(int device, long rowSums, @Cast("const int64_t*") long[] rows, long n, double clipNorm, int perTensor, long state,
            long factors);
}
