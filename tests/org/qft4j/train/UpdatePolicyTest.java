package org.qft4j.train;

import org.qft4j.qft.Rounding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The control flow of both update policies, against a recording optimizer. */
class UpdatePolicyTest {
    // Three "layers" in forward order: (4,8), (2,3) [a small norm-like tensor], (8,4).
    static final int[][] SHAPES = {{4, 8}, {2, 3}, {8, 4}};

    static float[] grad(int param, long seed, float scale) {
        int[] s = SHAPES[param];
        return GradientTest.random(s[0] * s[1], seed * 31 + param, scale);
    }

    /** Backward: gradients complete in reverse forward order. */
    static void backward(GradientPolicy p, long seed, float scale, int... params) {
        for (int i = params.length - 1; i >= 0; i--) {
            int q = params[i];
            p.gradient(q, grad(q, seed, scale), SHAPES[q][0], SHAPES[q][1]);
        }
    }

    static double norm(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return Math.sqrt(s);
    }

    static GradientQuantizer fp32() {
        return new GradientQuantizer(false, 0, Rounding.NEAREST, 1);
    }

    @Test
    void stashAppliesInForwardOrderAfterBackwardAtTheStepsRate() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, fp32(), opt, ClipMode.NONE, 0);
        p.begin(0.01);
        backward(p, 1, 1f, 0, 1, 2);
        assertTrue(opt.calls.isEmpty(), "nothing applied before finish");
        StepResult r = p.finish();
        assertEquals(List.of(0, 1, 2), opt.params());
        for (RecordingOptimizer.Call c : opt.calls) {
            assertEquals(0.01, c.lr());
            assertArrayEquals(grad(c.param(), 1, 1f), c.grad(), 0f);
        }
        assertFalse(r.skipped());
        assertEquals(3, r.tensorsUpdated());
        assertEquals(4 * (32 + 6 + 32), r.gradientBytes());
    }

    @Test
    void stashAccumulatesMicroBatchesIntoOneUpdatePerParameter() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, fp32(), opt, ClipMode.NONE, 0);
        p.begin(1);
        backward(p, 1, 1f, 0, 2);
        backward(p, 2, 1f, 0, 1, 2);
        p.finish();
        // Parameter 1 was first touched by the second micro-batch, so it sits above the others on the stack.
        assertEquals(List.of(1, 0, 2), opt.params());
        opt.calls.sort(java.util.Comparator.comparingInt(RecordingOptimizer.Call::param));
        float[] want0 = grad(0, 1, 1f), b = grad(0, 2, 1f);
        for (int i = 0; i < want0.length; i++) want0[i] += b[i];
        assertArrayEquals(want0, opt.calls.get(0).grad(), 1e-6f);
        assertArrayEquals(grad(1, 2, 1f), opt.calls.get(1).grad(), 0f);
    }

    @Test
    void parametersTheForwardDidNotTouchGetNoUpdate() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, fp32(), opt, ClipMode.GLOBAL_NORM, 1);
        p.begin(1);
        backward(p, 1, 1f, 0, 2);
        assertEquals(2, p.finish().tensorsUpdated());
        assertEquals(List.of(0, 2), opt.params());
    }

    @Test
    void smallTensorsKeepFp32GradientsWhileLargeOnesAreInt8() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, new GradientQuantizer(true, 16, Rounding.STOCHASTIC, 3), opt, ClipMode.NONE, 0);
        p.begin(1);
        backward(p, 4, 1f, 0, 1, 2);
        StepResult r = p.finish();
        assertTrue(opt.calls.get(0).int8());
        assertFalse(opt.calls.get(1).int8());
        assertTrue(opt.calls.get(2).int8());
        assertArrayEquals(grad(1, 4, 1f), opt.calls.get(1).grad(), 0f);
        assertEquals((32 + 4 * 4) + 4 * 6 + (32 + 4 * 8), r.gradientBytes());
    }

    @Test
    void stashClipsByTheExactGlobalNorm() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, new GradientQuantizer(true, 16, Rounding.STOCHASTIC, 3), opt, ClipMode.GLOBAL_NORM, 0.5);
        p.begin(1);
        backward(p, 5, 1f, 0, 1, 2);
        StepResult r = p.finish();
        assertTrue(r.gradNorm() > 1, "test needs a norm above the limit: " + r.gradNorm());
        double clipped = 0;
        for (RecordingOptimizer.Call c : opt.calls) {
            assertEquals(0.5 / r.gradNorm(), c.scale(), 1e-6, "one factor for every tensor");
            clipped += Math.pow(norm(c.grad()), 2);
        }
        assertEquals(0.5, Math.sqrt(clipped), 1e-5);
    }

    @Test
    void stashPerTensorClipBoundsEachTensor() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, fp32(), opt, ClipMode.PER_TENSOR_NORM, 0.5);
        p.begin(1);
        backward(p, 6, 1f, 0, 1, 2);
        p.finish();
        for (RecordingOptimizer.Call c : opt.calls) assertEquals(Math.min(0.5, norm(grad(c.param(), 6, 1f))), norm(c.grad()), 1e-5);
    }

    @Test
    void stashSkipsTheWholeStepOnANonFiniteGradientAndRecovers() {
        RecordingOptimizer opt = new RecordingOptimizer();
        StashPolicy p = new StashPolicy(3, new GradientQuantizer(true, 16, Rounding.STOCHASTIC, 3), opt, ClipMode.GLOBAL_NORM, 1);
        p.begin(1);
        p.gradient(2, grad(2, 1, 1f), 8, 4);
        p.gradient(1, grad(1, 1, 1f), 2, 3);
        float[] bad = grad(0, 1, 1f);
        bad[5] = Float.POSITIVE_INFINITY; // arrives last in backward: the stash still catches it before any update
        p.gradient(0, bad, 4, 8);
        StepResult r = p.finish();
        assertTrue(r.skipped());
        assertTrue(Double.isNaN(r.gradNorm()));
        assertEquals(3, r.tensorsSkipped());
        assertTrue(opt.calls.isEmpty());
        assertEquals(0, p.stack().size());
        p.begin(1);
        backward(p, 2, 1f, 0, 1, 2);
        assertFalse(p.finish().skipped());
        assertEquals(List.of(0, 1, 2), opt.params());
    }

    @Test
    void stashRequiresBeginAndFinishInTurn() {
        StashPolicy p = new StashPolicy(3, fp32(), new RecordingOptimizer(), ClipMode.NONE, 0);
        assertThrows(IllegalStateException.class, p::finish);
        p.begin(1);
        backward(p, 1, 1f, 0);
        assertThrows(IllegalStateException.class, () -> p.begin(1));
    }

    @Test
    void fusedUpdatesEachTensorAsSoonAsItsGradientIsComplete() {
        RecordingOptimizer opt = new RecordingOptimizer();
        FusedPerLayerPolicy p = new FusedPerLayerPolicy(new GradientQuantizer(true, 16, Rounding.NEAREST, 1), opt, ClipMode.PER_TENSOR_NORM, 0.5);
        p.begin(0.02);
        p.gradient(2, grad(2, 1, 1f), 8, 4);
        assertEquals(List.of(2), opt.params(), "applied during backward");
        p.gradient(1, grad(1, 1, 1f), 2, 3);
        p.gradient(0, grad(0, 1, 1f), 4, 8);
        StepResult r = p.finish();
        assertEquals(List.of(2, 1, 0), opt.params());
        for (RecordingOptimizer.Call c : opt.calls) {
            assertEquals(0.02, c.lr());
            assertTrue(norm(c.grad()) <= 0.5 + 1e-5);
        }
        assertEquals(3, r.tensorsUpdated());
        assertEquals(32 + 4 * 8, r.gradientBytes(), "only one gradient at a time: the largest");
        assertThrows(IllegalStateException.class, () -> p.gradient(0, grad(0, 1, 1f), 4, 8), "no begin for the next step");
    }

    @Test
    void fusedNonFiniteGradientLeavesAPartialStepThenRecovers() {
        RecordingOptimizer opt = new RecordingOptimizer();
        FusedPerLayerPolicy p = new FusedPerLayerPolicy(new GradientQuantizer(true, 16, Rounding.NEAREST, 1), opt, ClipMode.NONE, 0);
        p.begin(1);
        p.gradient(2, grad(2, 1, 1f), 8, 4);
        float[] bad = grad(1, 1, 1f);
        bad[0] = Float.NaN;
        p.gradient(1, bad, 2, 3);
        p.gradient(0, grad(0, 1, 1f), 4, 8);
        StepResult r = p.finish();
        // Documented behaviour: tensor 2 (completed before the NaN) stays updated; 1 and everything after it are skipped.
        assertEquals(List.of(2), opt.params());
        assertTrue(r.partial());
        assertFalse(r.skipped());
        assertEquals(1, r.tensorsUpdated());
        assertEquals(2, r.tensorsSkipped());
        assertTrue(Double.isNaN(r.gradNorm()));
        p.begin(1);
        backward(p, 2, 1f, 0, 1, 2);
        StepResult next = p.finish();
        assertEquals(3, next.tensorsUpdated());
        assertFalse(next.partial());
        assertEquals(List.of(2, 2, 1, 0), opt.params());
    }

    @Test
    void fusedWithTheFirstGradientNonFiniteIsAFullSkip() {
        RecordingOptimizer opt = new RecordingOptimizer();
        FusedPerLayerPolicy p = new FusedPerLayerPolicy(fp32(), opt, ClipMode.NONE, 0);
        p.begin(1);
        float[] bad = grad(2, 1, 1f);
        bad[3] = Float.NaN;
        p.gradient(2, bad, 8, 4);
        p.gradient(0, grad(0, 1, 1f), 4, 8);
        StepResult r = p.finish();
        assertTrue(r.skipped());
        assertTrue(opt.calls.isEmpty());
        assertThrows(IllegalArgumentException.class, () -> new FusedPerLayerPolicy(fp32(), opt, ClipMode.GLOBAL_NORM, 1));
    }
}
