package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void warmsUpLinearlyThenFollowsTheCosineDownToTheFloor() {
        LrSchedule s = new LrSchedule(1.0, 4, 14, 0.1);
        assertEquals(0.25, s.at(1), 1e-12);
        assertEquals(0.5, s.at(2), 1e-12);
        assertEquals(1.0, s.at(4), 1e-12);
        assertEquals(1.0, s.at(5), 1e-12);
        // Decay steps 5..14: progress (step-5)/9; the middle of the cosine is halfway between lr and floor.
        assertEquals(0.1 + 0.45 * (1 + Math.cos(Math.PI * 4 / 9.0)), s.at(9), 1e-12);
        assertEquals(0.1, s.at(14), 1e-12);
        for (int t = 5; t < 14; t++) assertTrue(s.at(t + 1) < s.at(t), "decreasing at " + t);
    }

    @Test
    void noWarmupStartsAtTheFullRateAndStepsOutsideTheRunAreRejected() {
        LrSchedule s = new LrSchedule(2e-3, 0, 3, 0.0);
        assertEquals(2e-3, s.at(1), 1e-15);
        assertEquals(1e-3, s.at(2), 1e-15);
        assertEquals(0.0, s.at(3), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> s.at(0));
        assertThrows(IllegalArgumentException.class, () -> s.at(4));
        assertEquals(5e-4, new LrSchedule(5e-4, 1, 1, 0.1).at(1), 1e-15);
    }
}
