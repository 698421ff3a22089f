package org.qft4j.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Where a checkpoint came from, as {@code __metadata__} entries: the SDK version and git commit it was
 * built from (from {@code org/qft4j/build-info.properties}, written at build time; "unknown" without
 * it), SHA-256 hashes of the config and of the training data, the seed and the UTC time of the save.
 */
public final class Provenance {
    public static final String SDK_VERSION = "qft4j.sdk_version";
    public static final String GIT_COMMIT = "qft4j.git_commit";
    public static final String CONFIG_SHA256 = "qft4j.config_sha256";
    public static final String DATA_SHA256 = "qft4j.data_sha256";
    public static final String SEED = "qft4j.seed";
    public static final String TIME = "qft4j.time";

    private static final Properties BUILD = buildInfo();

    private Provenance() {}

    /**
     * The provenance entries for a save now. {@code config} is the run's canonical config text (its
     * hash tells two runs apart); {@code dataSha256} comes from {@link #sha256(List)} over the data files.
     */
    public static Map<String, String> of(String config, String dataSha256, long seed) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(SDK_VERSION, sdkVersion());
        m.put(GIT_COMMIT, gitCommit());
        m.put(CONFIG_SHA256, sha256(config.getBytes(StandardCharsets.UTF_8)));
        m.put(DATA_SHA256, dataSha256);
        m.put(SEED, Long.toString(seed));
        m.put(TIME, Instant.now().truncatedTo(ChronoUnit.MILLIS).toString());
        return m;
    }

    public static String sdkVersion() {
        return BUILD.getProperty("version", "unknown");
    }

    /** The commit the SDK was built from, with "-dirty" when the tree had uncommitted changes. */
    public static String gitCommit() {
        return BUILD.getProperty("git.commit", "unknown");
    }

    public static String sha256(byte[] bytes) {
        MessageDigest d = sha256();
        return hex(d.digest(bytes));
    }

    /** SHA-256 over the contents of {@code files} in order, streamed (data sets can be large). */
    public static String sha256(List<Path> files) throws IOException {
        MessageDigest d = sha256();
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        for (Path f : files) {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                while (ch.read(buf.clear()) >= 0) d.update(buf.flip());
            }
        }
        return hex(d.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime provides SHA-256", e);
        }
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    private static Properties buildInfo() {
        Properties p = new Properties();
        try (InputStream in = Provenance.class.getResourceAsStream("/org/qft4j/build-info.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            p.clear();
        }
        return p;
    }
}
