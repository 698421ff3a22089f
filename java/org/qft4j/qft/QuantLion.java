package org.qft4j.qft;

import java.util.List;
import org.qft4j.Device;
import org.qft4j.NativeStatus;
import org.qft4j.Natives;
import org.qft4j.nativ.QftNative;
import org.qft4j.tensor.DType;
import org.qft4j.tensor.Tensor;

/**
 * QFT's optimizer: one fused Lion step over many (hybrid weight, INT8 gradient, INT8 momentum) triples
 * ({@code native/include/qft4j/lion_step.h}), on one device, in one pass (on CUDA one launch per row-length class). A non-finite
 * gradient turns the whole step into a no-op (see {@link #lastStepSkipped()}). The step counter keys the
 * stochastic rounding: restore it with {@link #setStep(long)} to resume a run bit-exactly. Owns a 4-byte flag.
 */
public final class QuantLion implements AutoCloseable {
    /**
     * One trainable tensor. tensorId keys its stochastic rounding stream: keep it stable across runs (e.g. the
     * tensor's index in the model). Gradient and momentum must have the weight's shape and device.
     */
    public record Param(int tensorId, HybridWeight weight, Int8Blocks gradient, Int8Blocks momentum) {
        public Param {
            for (Int8Blocks b : new Int8Blocks[] {gradient, momentum})
                if (b.rows() != weight.rows() || b.cols() != weight.cols() || !b.device().equals(weight.device()))
                    throw new IllegalArgumentException("QuantLion.Param " + tensorId + ": " + b + " does not match " + weight);
        }
    }

    private final Device device;
    private final LionConfig config;
    private final Tensor flag; // (1) I32: found non-finite gradient in the last step
    private long step;

    public QuantLion(Device device, LionConfig config) {
        Natives.load(QftNative.class);
        this.device = device;
        this.config = config;
        this.flag = Tensor.zeros(device, DType.I32, 1);
    }

    /** Applies one step to all params (all on this optimizer's device), then advances the step counter. */
    public void step(List<Param> params) {
        long[] desc = new long[params.size() * QftNative.QFT_LION_DESC_FIELDS];
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            if (!p.weight().device().equals(device))
                throw new IllegalArgumentException("QuantLion on " + device + " got param " + p.tensorId() + " on " + p.weight().device());
            int o = i * QftNative.QFT_LION_DESC_FIELDS;
            HybridWeight w = p.weight();
            desc[o + QftNative.QFT_LION_ROWS] = w.rows();
            desc[o + QftNative.QFT_LION_COLS] = w.cols();
            desc[o + QftNative.QFT_LION_TENSOR_ID] = p.tensorId();
            desc[o + QftNative.QFT_LION_W_CODES] = w.codes().address();
            desc[o + QftNative.QFT_LION_W_SCALES] = w.scales().address();
            desc[o + QftNative.QFT_LION_ROW_PTR] = w.rowPtr().address();
            desc[o + QftNative.QFT_LION_COL_IDX] = w.colIdx().address();
            desc[o + QftNative.QFT_LION_VALUES] = w.values().address();
            desc[o + QftNative.QFT_LION_G_CODES] = p.gradient().codes().address();
            desc[o + QftNative.QFT_LION_G_SCALES] = p.gradient().scales().address();
            desc[o + QftNative.QFT_LION_G_BLOCK] = p.gradient().block();
            desc[o + QftNative.QFT_LION_M_CODES] = p.momentum().codes().address();
            desc[o + QftNative.QFT_LION_M_SCALES] = p.momentum().scales().address();
            desc[o + QftNative.QFT_LION_M_BLOCK] = p.momentum().block();
        }
        NativeStatus.check(QftNative.qft_quant_lion_step(device.nativeId(), desc, params.size(), config.lr(), config.beta1(),
                config.beta2(), config.weightDecay(), step, config.seed(), config.rounding().code, flag.address()),
                "QuantLion.step(" + params.size() + " tensors, step " + step + ")");
        step++;
        if (config.reselectEvery() > 0 && step % config.reselectEvery() == 0)
            for (Param p : params) p.weight().reselectOutliers();
    }

    /** Whether the last step found a non-finite gradient and changed nothing (waits for the device). */
    public boolean lastStepSkipped() {
        return flag.toInts()[0] != 0;
    }

    /** Steps taken so far: the RNG key of the next step. */
    public long step() {
        return step;
    }

    /** Sets the step counter, e.g. from a checkpoint, so that a resumed run rounds exactly like the original. */
    public void setStep(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        this.step = step;
    }

    public LionConfig config() {
        return config;
    }

    @Override
    public void close() {
        flag.close();
    }
}
