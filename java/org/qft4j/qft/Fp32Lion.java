package org.qft4j.qft;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.tensor.Tensor;

/** The fp32 Lion reference (CPU): the same element rule as {@link QuantLion} without quantization. */
public final class Fp32Lion {
    private Fp32Lion() {}

    /** One step in place on w and m (n floats each) from gradient g; config's rounding/seed are unused. */
    public static void step(float[] w, float[] g, float[] m, LionConfig config) {
        if (g.length != w.length || m.length != w.length)
            throw new IllegalArgumentException("Fp32Lion.step: w, g, m lengths " + w.length + ", " + g.length + ", " + m.length + " differ");
        Natives.load(QftNative.class);
        try (Tensor tw = Tensor.of(Device.CPU, w, w.length); Tensor tg = Tensor.of(Device.CPU, g, g.length);
             Tensor tm = Tensor.of(Device.CPU, m, m.length)) {
            NativeStatus.check(QftNative.qft_lion_fp32_step(-1, tw.address(), tg.address(), tm.address(), w.length, config.lr(),
                    config.beta1(), config.beta2(), config.weightDecay()), "Fp32Lion.step(" + w.length + ")");
            NativeStatus.check(CoreNative.qft_copy_to_host(-1, w, tw.address(), tw.byteSize()), "Fp32Lion.step: reading w");
            NativeStatus.check(CoreNative.qft_copy_to_host(-1, m, tm.address(), tm.byteSize()), "Fp32Lion.step: reading m");
        }
    }
}
