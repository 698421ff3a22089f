package org.qft4j.train;

/** How fp32 values are rounded to INT8 codes when QFT quantizes weights, gradients and momentum. */
public enum Rounding {
    /** Stochastic rounding: unbiased in expectation, so small updates survive on average. */
    STOCHASTIC,
    /** Round to nearest: deterministic, biased; updates smaller than half a step are lost. */
    NEAREST
}
