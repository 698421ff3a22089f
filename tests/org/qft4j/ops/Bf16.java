package org.qft4j.ops;

import org.qft4j.NativeStatus;
import org.qft4j.nativ.CoreNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/** bf16 test helpers: round-to-nearest-even from fp32, and raw reads/writes of BF16 tensors. */
final class Bf16 {
    private Bf16() {}

    static short round(float v) {
        int u = Float.floatToRawIntBits(v);
        if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0;
        return (short) ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
    }

    static float toFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    static short[] read(Tensor t) {
        t.requireDType(DType.BF16, "Bf16.read");
        short[] out = new short[Math.toIntExact(t.numel())];
        NativeStatus.check(CoreNative.qft_copy_to_host(t.device().nativeId(), out, t.address(), t.byteSize()), "reading " + t);
        return out;
    }

    static Tensor of(org.qft4j.Device device, short[] data, long... shape) {
        Tensor t = Tensor.empty(device, DType.BF16, shape);
        NativeStatus.check(CoreNative.qft_copy_from_host(device.nativeId(), t.address(), data, t.byteSize()), "writing " + t);
        return t;
    }
}
