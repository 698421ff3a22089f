package org.qft4j.qft;

/**
 * How a {@link HybridWeight} splits a weight into INT8 dense part and fp32 outliers.
 *
 * @param outlierFraction share of the elements kept as fp32 outliers, in [0, 1] (QFT's default: 0.01)
 * @param perRow          false: the largest |w| of the whole tensor (one threshold); true: the same share in every row
 */
public record HybridConfig(double outlierFraction, boolean perRow) {
    public static final HybridConfig DEFAULT = new HybridConfig(0.01, false);

    public HybridConfig {
        if (!(outlierFraction >= 0 && outlierFraction <= 1))
            throw new IllegalArgumentException("outlierFraction must be in [0, 1], got " + outlierFraction);
    }

    public static HybridConfig outliers(double fraction) {
        return new HybridConfig(fraction, false);
    }
}
