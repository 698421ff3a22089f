package org.qft4j.qft;

import java.util.List;
import java.util.Locale;

/**
 * Bytes held by QFT's training state, per trainable parameter: INT8 dense weights, fp32 outliers (CSR),
 * scales (weight rows, gradient and momentum blocks), INT8 momentum and INT8 gradients.
 */
public record MemoryReport(long params, long weightBytes, long outlierBytes, long scaleBytes, long momentumBytes,
                           long gradientBytes) {
    public static MemoryReport of(List<QuantLion.Param> ps) {
        long n = 0, w = 0, o = 0, s = 0, m = 0, g = 0;
        for (QuantLion.Param p : ps) {
            n += (long) p.weight().rows() * p.weight().cols();
            w += p.weight().denseBytes();
            o += p.weight().outlierBytes();
            s += p.weight().scaleBytes() + p.gradient().scaleBytes() + p.momentum().scaleBytes();
            m += p.momentum().codeBytes();
            g += p.gradient().codeBytes();
        }
        return new MemoryReport(n, w, o, s, m, g);
    }

    public long totalBytes() { return weightBytes + outlierBytes + scaleBytes + momentumBytes + gradientBytes; }

    private double per(long b) { return params == 0 ? 0 : (double) b / params; }

    public double weightsPerParam() { return per(weightBytes); }
    public double outliersPerParam() { return per(outlierBytes); }
    public double scalesPerParam() { return per(scaleBytes); }
    public double momentumPerParam() { return per(momentumBytes); }
    public double gradientsPerParam() { return per(gradientBytes); }
    public double totalPerParam() { return per(totalBytes()); }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d params, bytes/param: weights %.4f, outliers %.4f, scales %.4f, momentum %.4f, "
                + "gradients %.4f, total %.4f", params, weightsPerParam(), outliersPerParam(), scalesPerParam(),
                momentumPerParam(), gradientsPerParam(), totalPerParam());
    }
}
