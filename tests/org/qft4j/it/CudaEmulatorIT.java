package org.qft4j.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs native/cuda's kernels, their own source compiled by g++, on the CPU through tests/emu's emulator
 * (tests/emu/README.md) against their CPU references: every driver tests/emu/run.sh finds (matmuls, attention, the
 * fused quantized Lion step, hybrid weights, INT8 operands and blocks, the INT8 GEMM's mma.sync, wgmma and TMA
 * kernels, PEQA, the train-step ops, the engine ops, RoPE and the residual add) and the emulator's self-check. It checks, where no GPU is, that a
 * kernel computes what its reference does; the GPU tests (tag "gpu") remain the proof on hardware.
 */
class CudaEmulatorIT {
    static boolean onPath(String tool) {
        try {
            return new ProcessBuilder("sh", "-c", "command -v " + tool).start().waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void kernelsMatchTheirCpuReferences() throws Exception {
        assumeTrue(onPath("g++") && onPath("python3"), "the CUDA emulator needs g++ and python3");
        Path root = MainJarIT.TARGET.toAbsolutePath().getParent();
        Process p = new ProcessBuilder("bash", "tests/emu/run.sh").directory(root.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.MINUTES), "tests/emu/run.sh timed out:\n" + out);
        System.out.print(out);
        assertEquals(0, p.exitValue(), "tests/emu/run.sh failed:\n" + out);
        long cases = out.lines().filter(l -> l.startsWith("PASS ")).count();
        // 936 when the sm90 INT8 driver (wgmma, TMA) was added: losing any driver of 40 or more cases fails here.
        assertTrue(cases >= 890 && out.lines().noneMatch(l -> l.startsWith("FAIL")), cases + " emulated cases passed:\n" + out);
    }
}
