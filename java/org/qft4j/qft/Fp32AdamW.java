package org.qft4j.qft;

import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.CoreNative;
import org.qft4j.nativ.QftNative;
import org.qft4j.tensor.Tensor;

/** The fp32 AdamW reference (CPU), torch.optim.AdamW's arithmetic, for comparisons with Lion. */
public final class Fp32AdamW {
    private Fp32AdamW() {}

    /** AdamW hyper-parameters (torch defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01). */
    public record Config(float lr, float beta1, float beta2, float eps, float weightDecay) {
        public static Config of(float lr) {
            return new Config(lr, 0.9f, 0.999f, 1e-8f, 0.01f);
        }
    }

    /** Step number {@code step} (from 1) in place on w, m, v (n floats each) from gradient g. */
    public static void step(float[] w, float[] g, float[] m, float[] v, Config c, long step) {
        if (g.length != w.length || m.length != w.length || v.length != w.length)
            throw new IllegalArgumentException("Fp32AdamW.step: w, g, m, v lengths " + w.length + ", " + g.length + ", "
                    + m.length + ", " + v.length + " differ");
        Natives.load(QftNative.class);
        try (Tensor tw = Tensor.of(Device.CPU, w, w.length); Tensor tg = Tensor.of(Device.CPU, g, g.length);
             Tensor tm = Tensor.of(Device.CPU, m, m.length); Tensor tv = Tensor.of(Device.CPU, v, v.length)) {
            NativeStatus.check(QftNative.qft_adamw_fp32_step(-1, tw.address(), tg.address(), tm.address(), tv.address(),
                    w.length, c.lr(), c.beta1(), c.beta2(), c.eps(), c.weightDecay(), step), "Fp32AdamW.step(" + w.length + ")");
            NativeStatus.check(CoreNative.qft_copy_to_host(-1, w, tw.address(), tw.byteSize()), "Fp32AdamW.step: reading w");
            NativeStatus.check(CoreNative.qft_copy_to_host(-1, m, tm.address(), tm.byteSize()), "Fp32AdamW.step: reading m");
            NativeStatus.check(CoreNative.qft_copy_to_host(-1, v, tv.address(), tv.byteSize()), "Fp32AdamW.step: reading v");
        }
    }
}
