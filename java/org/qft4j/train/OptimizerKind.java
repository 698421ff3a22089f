package org.qft4j.train;

/** Which optimizer trains the model: QFT's INT8 Lion or one of the fp32 baselines in the same engine. */
public enum OptimizerKind {
    /** QFT: INT8 hybrid weights, INT8 gradients, INT8 Lion momentum. */
    QFT_LION,
    /** Lion (Chen et al. 2023, arXiv 2302.06675) with fp32 weights and momentum. */
    FP32_LION,
    /** AdamW (Loshchilov and Hutter, arXiv 1711.05101) with fp32 weights and moments: 16 bytes/param. */
    FP32_ADAMW
}
