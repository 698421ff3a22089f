package org.qft4j.llama.device;

/**
 * How a hybrid INT8 layer multiplies its fp32 outliers S (1% of W, QFT's sparse part) in the forward y = x Wᵀ and, with
 * INT8 backward matmuls, in dX = dY W. The outliers themselves stay fp32 for the optimizer either way.
 */
public enum OutlierProducts {
    /**
     * A sparse add with the unquantized fp32 operand (qft_hybrid_sparse_add). Exact, but gather-bound: about 8x the dense
     * INT8 GEMM's time on an H100 at 1% outliers (bench/results/sparse-add-peqa-h100.md).
     */
    FP32_SPARSE,
    /**
     * A second INT8 GEMM: the operand's INT8 codes (the dense part's: per token) against an INT8 image of S with one
     * absmax scale per weight row (qft_hybrid_outlier_codes), built in a scratch per call. About 1x the dense GEMM; the
     * outliers' products carry the activations' INT8 rounding and an 8-bit rounding of each outlier relative to its
     * row's largest.
     */
    INT8;

    /** The command-line label: fp32-sparse or int8. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    public static OutlierProducts parse(String s) {
        for (OutlierProducts o : values()) if (o.label().equals(s)) return o;
        throw new IllegalArgumentException("outlier products: fp32-sparse or int8, got '" + s + "'");
    }
}
