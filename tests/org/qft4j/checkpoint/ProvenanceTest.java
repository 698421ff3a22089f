package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProvenanceTest {
    @Test
    void hashesAreSha256OfTheBytesAndOfTheFilesInOrder(@TempDir Path dir) throws Exception {
        // FIPS 180-2 test vector
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Provenance.sha256("abc".getBytes(StandardCharsets.US_ASCII)));
        Path a = Files.write(dir.resolve("a"), "ab".getBytes(StandardCharsets.US_ASCII));
        Path b = Files.write(dir.resolve("b"), "c".getBytes(StandardCharsets.US_ASCII));
        assertEquals(Provenance.sha256("abc".getBytes(StandardCharsets.US_ASCII)), Provenance.sha256(List.of(a, b)));
    }

    @Test
    void recordsTheBuildTheConfigTheSeedAndTheTime() {
        Instant before = Instant.now();
        Map<String, String> p = Provenance.of("dim=64", "d", 7);
        // The build writes org/qft4j/build-info.properties from the pom's version.
        assertTrue(p.get(Provenance.SDK_VERSION).matches("\\d+\\.\\d+\\.\\d+(-SNAPSHOT)?"), p.get(Provenance.SDK_VERSION));
        // Built from a git checkout, the build writes the 40-hex commit; elsewhere "unknown".
        assertTrue(p.get(Provenance.GIT_COMMIT).matches("[0-9a-f]{40}(-dirty)?|unknown"), p.get(Provenance.GIT_COMMIT));
        assertEquals(Provenance.sha256("dim=64".getBytes(StandardCharsets.UTF_8)), p.get(Provenance.CONFIG_SHA256));
        assertEquals("d", p.get(Provenance.DATA_SHA256));
        assertEquals("7", p.get(Provenance.SEED));
        Instant t = Instant.parse(p.get(Provenance.TIME));
        assertTrue(!t.isBefore(before.minusMillis(1)) && Duration.between(t, Instant.now()).getSeconds() < 60, t.toString());
    }
}
