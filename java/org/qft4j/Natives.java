package org.qft4j;

import java.util.logging.Logger;
import org.bytedeco.javacpp.Loader;
import org.qft4j.nativ.CoreNative;

/**
 * Loads qft4j's native libraries exactly once per JVM. A failure is remembered and reported with
 * the same message on every later call, because a failed native load cannot be retried in a JVM.
 */
public final class Natives {
    private static final Logger LOG = Logger.getLogger("org.qft4j");
    private static Throwable failure;
    private static boolean loaded;

    private Natives() {}

    /** Loads the CPU library and the JNI glue of {@code binding} (a class in org.qft4j.nativ). */
    public static synchronized void load(Class<?> binding) {
        if (failure != null) throw unavailable(failure);
        try {
            Loader.load(CoreNative.class);
            if (binding != CoreNative.class) Loader.load(binding);
            if (!loaded) {
                loaded = true;
                LOG.fine(() -> "qft4j native " + CoreNative.qft_version() + " loaded for " + Loader.getPlatform());
            }
        } catch (Throwable t) {
            if (!loaded) failure = t;
            throw unavailable(t);
        }
    }

    /** Whether the CPU library loads on this machine (never throws). */
    public static boolean available() {
        try {
            load(CoreNative.class);
            return true;
        } catch (Qft4jException e) {
            return false;
        }
    }

    private static Qft4jException unavailable(Throwable cause) {
        return new Qft4jException(NativeStatus.ENODEV, "qft4j native library could not be loaded on platform "
                + Loader.getPlatform() + " (supported: linux-x86_64): " + cause, cause);
    }
}
