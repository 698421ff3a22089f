package org.qft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.qft4j.Cuda;

class MainTest {
    static final class Result {
        int status;
        String out;
        String err;
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        Result r = new Result();
        r.status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        r.out = out.toString(StandardCharsets.UTF_8);
        r.err = err.toString(StandardCharsets.UTF_8);
        return r;
    }

    @Test
    void diagnoseReportsTheCpuBackendAndWhyCudaIsOrIsNotUsable() {
        Result r = run("diagnose");
        assertEquals(0, r.status, r.out);
        assertTrue(r.out.contains("native library: libqft4j"), r.out);
        assertTrue(r.out.contains("self-test on cpu: quantize_rows_absmax"), r.out);
        if (Cuda.status().usable()) assertTrue(r.out.contains("CUDA library: linux-x86_64-cuda-" + Cuda.status().target()), r.out);
        else assertTrue(r.out.contains("CUDA unavailable: "), r.out);
    }

    @Test
    void diagnoseFailsWhenTheRequestedDeviceIsUnusable() {
        Result r = run("diagnose", "--device", "cuda:7");
        assertEquals(1, r.status, r.out);
        assertTrue(r.out.contains("! device cuda:7 requested but unusable"), r.out);
        assertEquals(0, run("diagnose", "--device", "cpu").status);
    }

    @Test
    void unknownCommandsAndOptionsExitWithUsage() {
        Result r = run("frobnicate");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("unknown command 'frobnicate'"), r.err);
        assertEquals(2, run("diagnose", "--bogus").status);
    }
}
