package org.qft4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceTest {
    @Test
    void parsesDeviceNames() {
        assertEquals(Device.CPU, Device.parse("cpu"));
        assertEquals(Device.cuda(0), Device.parse("cuda"));
        assertEquals(Device.cuda(3), Device.parse(" CUDA:3 "));
        assertEquals(-1, Device.CPU.nativeId());
        assertEquals("cuda:2", Device.cuda(2).toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        assertTrue(e.getMessage().contains("cpu, cuda, cuda:N or auto"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Device.parse("cuda:x"));
        assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1));
    }

    @Test
    void choosesCudaLibraryByComputeCapability() {
        assertEquals("sm80", Cuda.targetFor(8, 0));
        assertEquals("sm86", Cuda.targetFor(8, 6));
        assertEquals("sm86", Cuda.targetFor(8, 7));
        assertEquals("sm89", Cuda.targetFor(8, 9));
        assertEquals("sm90", Cuda.targetFor(9, 0));
        assertEquals("sm90", Cuda.targetFor(12, 0), "newer GPUs JIT the sm90 library's PTX");
        assertNull(Cuda.targetFor(7, 5), "Turing has no INT8 mma.sync path");
    }

    @Test
    void aMissingCudaLibraryFileIsAnUnusableStatusNamingIt() {
        Cuda.Status s = Cuda.open(13000, List.of(), "sm90", new File("/nonexistent/libqft4j_cuda.so"));
        assertFalse(s.usable());
        assertTrue(s.reason().contains("/nonexistent/libqft4j_cuda.so") && s.reason().contains("qft4j.cuda.library"), s.reason());
    }

    @Test
    void autoFallsBackToCpuWithAReasonWhenCudaIsUnusable() {
        Cuda.Status s = Cuda.status();
        if (s.usable()) {
            assertEquals(Device.cuda(0), Device.auto());
        } else {
            assertEquals(Device.CPU, Device.auto());
            assertTrue(s.reason() != null && !s.reason().isBlank());
            Qft4jException e = assertThrows(Qft4jException.class, () -> Device.cuda(0).requireUsable());
            assertTrue(e.getMessage().contains("cuda:0 is not usable"), e.getMessage());
        }
    }

    @Test
    void everyConfiguredGpuTargetHasALibraryWhenCudaWasBuilt() {
        // With nvcc present the build makes a CUDA library for every configured target; without it none.
        String configured = System.getProperty("qft4j.cuda.targets", String.join(";", Cuda.TARGETS));
        java.util.List<String> targets = java.util.Arrays.asList(configured.split(";"));
        long present = targets.stream().filter(t -> Cuda.class.getResource(Cuda.resourcePath(t)) != null).count();
        assertTrue(present == 0 || present == targets.size(), "CUDA libraries present for " + present + " of " + targets);
    }
}
