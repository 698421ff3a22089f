package org.qft4j.train;

import org.qft4j.qft.Rounding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class GradientStackTest {
    static Gradient grad(int param, int n) {
        return Gradient.fp32(param, new float[n], 1, n);
    }

    @Test
    void backwardOrderPushedComesOffInForwardOrder() {
        GradientStack s = new GradientStack(5);
        for (int p = 4; p >= 0; p--) s.push(grad(p, 2));
        for (int p = 0; p < 5; p++) assertEquals(p, s.pop().param);
        assertThrows(IllegalStateException.class, s::pop);
    }

    @Test
    void eachParameterHasOneSlotPerStepFoundInConstantTime() {
        GradientStack s = new GradientStack(3);
        Gradient g = grad(1, 4);
        s.push(g);
        assertSame(g, s.find(1));
        assertNull(s.find(0));
        assertThrows(IllegalStateException.class, () -> s.push(grad(1, 4)));
        assertThrows(IllegalArgumentException.class, () -> s.push(grad(3, 4)));
        s.pop();
        assertNull(s.find(1));
        s.push(grad(1, 4));
    }

    @Test
    void bytesFollowTheContentsAndThePeakIsKept() {
        GradientStack s = new GradientStack(3);
        s.push(grad(2, 10));
        s.push(Gradient.int8(1, new float[20], 2, 10, Rounding.NEAREST, new java.util.SplittableRandom(0)));
        assertEquals(40 + 20 + 8, s.bytes());
        s.pop();
        assertEquals(40, s.bytes());
        s.clear();
        assertEquals(0, s.bytes());
        assertEquals(0, s.size());
        assertNull(s.find(2));
        assertEquals(68, s.peakBytes());
    }
}
