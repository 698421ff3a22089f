package org.qft4j;

/** The SDK's unchecked error: a failed native call (with its qft status code) or an unusable setup. */
public class Qft4jException extends RuntimeException {
    private final int status;

    public Qft4jException(String message) {
        this(NativeStatus.EINTERNAL, message, null);
    }

    public Qft4jException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The native status code ({@link NativeStatus}), or {@link NativeStatus#EINTERNAL} for Java-side failures. */
    public int status() {
        return status;
    }
}
