package org.qft4j.checkpoint;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import org.qft4j.tensor.DType;

/**
 * One tensor to save: its dtype, its shape and a way to stream its bytes, so that a model larger than
 * any Java array can be saved without first gathering it on the heap (an implementation may copy a
 * native tensor out in chunks). {@link TensorBuffer} is the heap/mapped implementation and what loading
 * returns.
 */
public interface TensorData {
    DType dtype();

    /** The shape, row-major; a copy. A scalar has shape {@code []}. */
    long[] shape();

    /** Elements, the product of the shape; throws ArithmeticException on overflow. */
    default long numel() {
        return numel(shape());
    }

    default long byteSize() {
        return Math.multiplyExact(numel(), (long) dtype().bytes());
    }

    /**
     * Writes exactly {@link #byteSize()} bytes to {@code out}: the elements in row-major order, each
     * little-endian. The writer checks the count and fails the save when it differs.
     */
    void writeTo(WritableByteChannel out) throws IOException;

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
