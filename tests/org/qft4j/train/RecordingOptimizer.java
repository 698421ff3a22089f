package org.qft4j.train;

import java.util.ArrayList;
import java.util.List;

/** Records each update: the parameter, the gradient it would apply (scale * g, dequantized) and the LR. */
final class RecordingOptimizer implements ParameterOptimizer {
    record Call(int param, float[] grad, float scale, double lr, boolean int8) {}

    final List<Call> calls = new ArrayList<>();

    @Override
    public void apply(Gradient g, float gradScale, double lr) {
        float[] v = new float[g.rows * g.cols];
        g.dequantize(v);
        for (int i = 0; i < v.length; i++) v[i] *= gradScale;
        calls.add(new Call(g.param, v, gradScale, lr, g.isInt8()));
    }

    List<Integer> params() {
        return calls.stream().map(Call::param).toList();
    }
}
