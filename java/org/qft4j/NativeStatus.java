package org.qft4j;

import org.qft4j.nativ.CoreNative;

/** Status codes of the native ABI ({@code native/include/qft4j/core.h}) and the one place that checks them. */
public final class NativeStatus {
    public static final int OK = 0;
    public static final int EINVAL = 1;
    public static final int ENOMEM = 2;
    public static final int ECUDA = 3;
    public static final int EUNSUPPORTED = 4;
    public static final int EINTERNAL = 5;
    public static final int ENODEV = 6;

    private NativeStatus() {}

    /** Throws a {@link Qft4jException} carrying the native message when {@code status != OK}. */
    public static void check(int status, String what) {
        if (status == OK) return;
        String detail = CoreNative.qft_last_error();
        throw new Qft4jException(status, what + " failed (" + name(status) + "): " + detail, null);
    }

    public static String name(int status) {
        switch (status) {
            case OK: return "OK";
            case EINVAL: return "invalid argument";
            case ENOMEM: return "out of memory";
            case ECUDA: return "CUDA error";
            case EUNSUPPORTED: return "unsupported";
            case EINTERNAL: return "internal error";
            case ENODEV: return "no device";
            default: return "status " + status;
        }
    }
}
