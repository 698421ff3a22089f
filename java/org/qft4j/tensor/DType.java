package org.qft4j.tensor;

/** Element types of native tensors, with their size in bytes. */
public enum DType {
    F32(4), BF16(2), F16(2), I8(1), U8(1), I32(4), I64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }
}
