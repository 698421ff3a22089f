package org.qft4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.qft4j.Device;
import org.qft4j.GpuTest;
import org.qft4j.Gpus;
import org.qft4j.nativ.CoreNative;
import org.qft4j.Natives;
import org.qft4j.NativeStatus;

class TensorTest {
    @Test
    void roundTripsDataAndCountsLiveMemory() {
        MemoryStats before = MemoryStats.of(Device.CPU);
        float[] data = {1, -2, 3.5f, 4, 5, 6};
        try (Tensor t = Tensor.of(Device.CPU, data, 2, 3)) {
            assertArrayEquals(data, t.toFloats());
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals(24, t.byteSize());
            MemoryStats during = MemoryStats.of(Device.CPU);
            assertEquals(before.liveBytes() + 24, during.liveBytes());
            assertEquals(before.liveHandles() + 1, during.liveHandles());
        }
        MemoryStats after = MemoryStats.of(Device.CPU);
        assertEquals(before.liveBytes(), after.liveBytes());
        assertEquals(before.liveHandles(), after.liveHandles());
    }

    @Test
    void closeIsIdempotentAndAClosedTensorRefusesUse() {
        Tensor t = Tensor.zeros(Device.CPU, DType.I8, 4);
        assertArrayEquals(new byte[4], t.toBytes());
        t.close();
        t.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toBytes);
        assertTrue(e.getMessage().contains("closed tensor I8[4]"), e.getMessage());
    }

    @Test
    void aViewSharesItsBasesMemoryOwnsNothingAndDiesWithIt() {
        long live = MemoryStats.of(Device.CPU).liveHandles();
        Tensor base = Tensor.of(Device.CPU, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor v = base.view(2, 2), vv = v.view(4);
        assertEquals(base.address(), v.address());
        assertArrayEquals(new float[] {1, 2, 3, 4}, vv.toFloats(), "the first elements of the base, in a new shape");
        assertEquals(base, vv.base(), "a view of a view has the same owner");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> v.view(7));
        assertTrue(e.getMessage().contains("F32[7] does not fit in F32[2, 3]"), e.getMessage());
        v.close();
        assertEquals(4f, vv.toFloats()[3], "closing a view frees nothing");
        assertEquals(live + 1, MemoryStats.of(Device.CPU).liveHandles(), "views allocate nothing");
        base.close();
        assertTrue(v.isClosed() && vv.isClosed());
        assertThrows(IllegalStateException.class, vv::address);
        assertEquals(live, MemoryStats.of(Device.CPU).liveHandles());
    }

    @Test
    void scopeClosesEverythingInReverseOrder() {
        long live = MemoryStats.of(Device.CPU).liveHandles();
        Tensor kept;
        try (Scope scope = new Scope()) {
            for (int i = 0; i < 10; i++) scope.add(Tensor.zeros(Device.CPU, DType.F32, 100));
            kept = scope.add(Tensor.zeros(Device.CPU, DType.I32, 3));
            assertEquals(live + 11, MemoryStats.of(Device.CPU).liveHandles());
        }
        assertTrue(kept.isClosed());
        assertEquals(live, MemoryStats.of(Device.CPU).liveHandles());
    }

    @Test
    void rejectsBadShapesWithTheShapeInTheMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.of(Device.CPU, new float[5], 2, 3));
        assertTrue(e.getMessage().contains("length 5") && e.getMessage().contains("[2, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.empty(Device.CPU, DType.F32, 2, -1));
        assertThrows(ArithmeticException.class, () -> Tensor.empty(Device.CPU, DType.F32, Long.MAX_VALUE, 2));
    }

    @Test
    void nativeRejectsDoubleFreeAndHugeAllocationsWithoutCrashing() {
        Natives.load(CoreNative.class);
        long[] addr = new long[1];
        assertEquals(NativeStatus.OK, CoreNative.qft_alloc(-1, 16, addr));
        assertEquals(NativeStatus.OK, CoreNative.qft_free(-1, addr[0]));
        assertEquals(NativeStatus.EINVAL, CoreNative.qft_free(-1, addr[0]));
        assertTrue(CoreNative.qft_last_error().contains("double free"), CoreNative.qft_last_error());
        assertEquals(NativeStatus.ENOMEM, CoreNative.qft_alloc(-1, 1L << 60, addr));
    }

    @Test
    @GpuTest
    void copiesBetweenCpuAndGpuAndTracksGpuMemory() {
        Device gpu = Gpus.require();
        MemoryStats before = MemoryStats.of(gpu);
        float[] data = new float[1 << 20];
        for (int i = 0; i < data.length; i++) data[i] = i * 0.5f;
        try (Tensor host = Tensor.of(Device.CPU, data, data.length); Tensor dev = host.to(gpu); Tensor back = dev.to(Device.CPU)) {
            assertArrayEquals(data, back.toFloats());
            assertArrayEquals(data, dev.toFloats());
            assertEquals(before.liveBytes() + 4L * data.length, MemoryStats.of(gpu).liveBytes());
        }
        assertEquals(before.liveBytes(), MemoryStats.of(gpu).liveBytes());
    }
}
