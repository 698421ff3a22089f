// train_step.cu vs native/cpu/train_step.cpp, as TrainStepOpsTest.cudaMatchesTheReferences: row sums of squares
// within 1e-12 relative (fp64 sums in another order), stochastic INT8 blocks, scaled fp32 Lion, clip factors and
// f32 scale bit-exact.
// emu-cuda: train_step.cu int8_blocks.cu
#include "driver.h"
#include "qft4j/int8_blocks.h"
#include "qft4j/train_step.h"

using drv::Dev;

namespace {

std::vector<double> row_sumsq(int dev, const std::vector<float>& x, int64_t rows, int64_t cols, int64_t block) {
    std::vector<double> out(rows);
    if (block == 0) {
        Dev<float> dx(x);
        Dev<double> d(rows);
        drv::status("row_sumsq", qft_f32_row_sumsq(dev, dev < 0 ? (int64_t)x.data() : dx.addr(), rows, cols, dev < 0 ? (int64_t)out.data() : d.addr()));
        if (dev >= 0) out = d.host();
        return out;
    }
    const int64_t nb = (cols + block - 1) / block;
    std::vector<int8_t> codes(rows * cols);
    std::vector<float> scales(rows * nb);
    drv::status("quantize", qft_int8_blocks_quantize(QFT_DEVICE_CPU, (int64_t)x.data(), rows, cols, block, 0, (int64_t)codes.data(), (int64_t)scales.data()));
    Dev<int8_t> dc(codes);
    Dev<float> ds(scales);
    Dev<double> d(rows);
    if (dev < 0) drv::status("int8 row_sumsq", qft_int8_blocks_row_sumsq(dev, (int64_t)codes.data(), (int64_t)scales.data(), rows, cols, block, (int64_t)out.data()));
    else drv::status("int8 row_sumsq", qft_int8_blocks_row_sumsq(dev, dc.addr(), ds.addr(), rows, cols, block, d.addr())), out = d.host();
    return out;
}

// Codes then scales as floats, for rows [r0, r1) ranges in turn (TrainStepOpsTest.stochasticInRowRanges).
std::vector<float> stochastic(int dev, const std::vector<float>& x, int64_t rows, int64_t cols, int64_t block, std::vector<int64_t> cuts) {
    const int64_t nb = (cols + block - 1) / block;
    Dev<float> dx(x);
    Dev<int8_t> dc(rows * cols);
    Dev<float> ds(rows * nb);
    std::vector<int8_t> codes(rows * cols);
    std::vector<float> scales(rows * nb);
    cuts.insert(cuts.begin(), 0);
    cuts.push_back(rows);
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        const int64_t r0 = cuts[i], r1 = cuts[i + 1];
        const int64_t xa = dev < 0 ? (int64_t)(x.data() + r0 * cols) : (int64_t)(dx.p + r0 * cols);
        const int64_t ca = dev < 0 ? (int64_t)(codes.data() + r0 * cols) : (int64_t)(dc.p + r0 * cols);
        const int64_t sa = dev < 0 ? (int64_t)(scales.data() + r0 * nb) : (int64_t)(ds.p + r0 * nb);
        drv::status("stochastic", qft_int8_blocks_quantize_stochastic(dev, xa, r1 - r0, cols, block, 3, 4, 5, r0, ca, sa));
    }
    if (dev >= 0) codes = dc.host(), scales = ds.host();
    std::vector<float> out(codes.begin(), codes.end());
    out.insert(out.end(), scales.begin(), scales.end());
    return out;
}

std::vector<float> lion(int dev, std::vector<float> w, const std::vector<float>& g, std::vector<float> m, float scale) {
    Dev<float> dw(w), dg(g), dm(m), ds(std::vector<float>{scale});
    std::vector<float> s{scale};
    if (dev < 0) drv::status("lion", qft_lion_fp32_scaled_step(dev, (int64_t)w.data(), (int64_t)g.data(), (int64_t)m.data(), (int64_t)w.size(), 1e-3f, 0.9f, 0.99f, 0.1f, (int64_t)s.data()));
    else drv::status("lion", qft_lion_fp32_scaled_step(dev, dw.addr(), dg.addr(), dm.addr(), (int64_t)w.size(), 1e-3f, 0.9f, 0.99f, 0.1f, ds.addr())), w = dw.host(), m = dm.host();
    w.insert(w.end(), m.begin(), m.end());
    return w;
}

// Factors, then the state's 4 int64 (as their bits).
std::vector<int64_t> clip(int dev, const std::vector<double>& sums, std::vector<int64_t> rows, double clip_norm, int per_tensor, std::vector<int64_t> state) {
    std::vector<float> f(rows.size());
    Dev<double> dsums(sums);
    Dev<int64_t> dstate(state);
    Dev<float> dfac(rows.size());
    if (dev < 0) drv::status("clip", qft_clip_factors(dev, (int64_t)sums.data(), rows.data(), (int64_t)rows.size(), clip_norm, per_tensor, (int64_t)state.data(), (int64_t)f.data()));
    else drv::status("clip", qft_clip_factors(dev, dsums.addr(), rows.data(), (int64_t)rows.size(), clip_norm, per_tensor, dstate.addr(), dfac.addr())), f = dfac.host(), state = dstate.host();
    std::vector<int64_t> out;
    for (float v : f) {
        uint32_t b;
        memcpy(&b, &v, 4);
        out.push_back(b);
    }
    out.insert(out.end(), state.begin(), state.end());
    return out;
}

}  // namespace

void run_cases() {
    const int64_t rows = 37, cols = 1000;
    auto x = drv::randn(rows * cols, 7, 0.3);
    for (int64_t block : {0, 256, 4096}) {
        const auto cpu = row_sumsq(-1, x, rows, cols, block), emu = row_sumsq(0, x, rows, cols, block);
        double worst = 0;
        for (int64_t r = 0; r < rows; ++r) worst = std::fmax(worst, std::fabs(cpu[r] - emu[r]) / cpu[r]);
        const bool ok = worst <= 1e-12 && emu::errors() == 0;
        printf("%s %-70s rel err %.3g (tol 1e-12)\n", ok ? "PASS" : "FAIL", ("row_sumsq block " + std::to_string(block)).c_str(), worst);
        drv::failures += !ok;
        emu::reset_errors();
    }
    for (int64_t block : {64, 1000, 300})
        drv::exact("int8_blocks_quantize_stochastic block " + std::to_string(block), stochastic(-1, x, rows, cols, block, {}),
                   stochastic(0, x, rows, cols, block, {}));
    drv::exact("int8_blocks_quantize_stochastic block 64, row ranges {12, 18}", stochastic(-1, x, rows, cols, 64, {}),
               stochastic(0, x, rows, cols, 64, {rows / 3, rows / 2}));
    const auto w = drv::randn(5000, 8, 0.3), g = drv::randn(5000, 9, 0.3), m = drv::randn(5000, 10, 0.3);
    for (float s : {0.61f, 1.0f, NAN, INFINITY})
        drv::exact("lion_fp32_scaled_step scale " + std::to_string(s), lion(-1, w, g, m, s), lion(0, w, g, m, s));
    auto raw = drv::randn(40, 14, 0.3);
    std::vector<double> sums(40);
    for (int i = 0; i < 40; ++i) sums[i] = (double)raw[i] * raw[i] * 1e3;
    const std::vector<int64_t> trows = {7, 1, 20, 12};
    for (int per : {1, 0})
        drv::exact("clip_factors per_tensor " + std::to_string(per), clip(-1, sums, trows, 30.0, per, {0, 0, 0, 0}),
                   clip(0, sums, trows, 30.0, per, {0, 0, 0, 0}));
    double seven = 7.0;
    int64_t seven_bits;
    memcpy(&seven_bits, &seven, 8);
    drv::exact("clip_factors poisoned state", clip(-1, sums, trows, 30.0, 1, {1, 4, 1, seven_bits}), clip(0, sums, trows, 30.0, 1, {1, 4, 1, seven_bits}));
    sums[9] = INFINITY;
    drv::exact("clip_factors with a non-finite tensor", clip(-1, sums, trows, 30.0, 1, {0, 0, 0, 0}), clip(0, sums, trows, 30.0, 1, {0, 0, 0, 0}));
    for (float a : {0.3f, 0.25f}) {
        std::vector<float> y = x;
        std::vector<float> av{a};
        drv::status("scale cpu", qft_f32_scale(-1, (int64_t)y.data(), (int64_t)y.size(), (int64_t)av.data()));
        Dev<float> dx(x), da(av);
        drv::status("scale emu", qft_f32_scale(0, dx.addr(), (int64_t)x.size(), da.addr()));
        drv::exact("f32_scale " + std::to_string(a), y, dx.host());
    }
}
