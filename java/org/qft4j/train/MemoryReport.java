package org.qft4j.train;

import java.util.Locale;

/**
 * Persistent training state in bytes: weights as stored (QFT: INT8 codes, scales, fp32 outliers; small
 * tensors fp32), optimizer state (momentum; AdamW both moments) and the most gradient bytes held at once
 * (STASH: the whole step's INT8 gradients; FUSED_PER_LAYER: the largest single tensor's).
 */
public record MemoryReport(long parameters, long weightBytes, long optimizerBytes, long gradientBytes) {
    public long totalBytes() {
        return weightBytes + optimizerBytes + gradientBytes;
    }

    public double bytesPerParameter() {
        return (double) totalBytes() / parameters;
    }

    MemoryReport withGradientPeak(long bytes) {
        return bytes <= gradientBytes ? this : new MemoryReport(parameters, weightBytes, optimizerBytes, bytes);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d parameters: weights %.3f + optimizer %.3f + gradients %.3f = %.3f bytes/parameter",
                parameters, (double) weightBytes / parameters, (double) optimizerBytes / parameters,
                (double) gradientBytes / parameters, bytesPerParameter());
    }
}
