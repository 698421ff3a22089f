package org.qft4j.train;

/** Which optimizer trains the model: QFT's INT8 Lion, one of the fp32 baselines in the same engine, or PEQA's scale-only AdamW. */
public enum OptimizerKind {
    /** QFT: INT8 hybrid weights, INT8 gradients, INT8 Lion momentum. */
    QFT_LION,
    /** Lion (Chen et al. 2023, arXiv 2302.06675) with fp32 weights and momentum. */
    FP32_LION,
    /** AdamW (Loshchilov and Hutter, arXiv 1711.05101) with fp32 weights and moments: 16 bytes/param. */
    FP32_ADAMW,
    /**
     * PEQA (Kim et al., arXiv 2305.14152): the block matrices RTN-quantized to {@link TrainConfig#bits} bits with frozen
     * codes and zero-points; AdamW (weight decay 0) trains their per-group scales and nothing else.
     */
    PEQA_ADAMW
}
