// quantize_operands.cu vs native/cpu/quantize_operands.cpp (Int8OperandsTest.cudaOperandsMatchTheCpuBitForBit):
// per-row codes with and without a column multiplier, per-column codes written transposed, fp32 and bf16 input,
// a non-finite value with and without the `bad` counter, and the int8 transpose; codes, scales, status and count
// bit-exact.
// emu-cuda: quantize_operands.cu
#include "driver.h"
#include "qft4j/quantize_operands.h"

using drv::Dev;

namespace {

struct Out {
    std::vector<int8_t> q;
    std::vector<float> s;
    int rc, bad;
};

// kind 0: rows without multiplier, 1: rows with col_mul, 2: columns transposed.
Out quantize(int dev, int kind, int dtype, const std::vector<float>& xf, const std::vector<uint16_t>& xb, const std::vector<float>& mul, int64_t rows,
             int64_t cols, bool with_bad) {
    Dev<float> dx(xf), dm(mul);
    Dev<uint16_t> dxb(xb);
    const int64_t x = dtype == QFT_IN_F32 ? dx.addr() : dxb.addr();
    const int64_t nv = kind == 2 ? cols : rows;
    Dev<int8_t> q(rows * cols);
    Dev<float> s(nv);
    Dev<int32_t> bad(std::vector<int32_t>{0});
    Out o;
    if (kind == 2) o.rc = qft_quantize_cols_absmax(dev, dtype, x, rows, cols, q.addr(), s.addr(), with_bad ? bad.addr() : 0);
    else o.rc = qft_quantize_rows_absmax_ex(dev, dtype, x, rows, cols, kind == 1 ? dm.addr() : 0, q.addr(), s.addr(), with_bad ? bad.addr() : 0);
    o.q = q.host(), o.s = s.host(), o.bad = bad.host()[0];
    return o;
}

}  // namespace

void run_cases() {
    const int64_t shapes[][2] = {{1, 1}, {33, 257}, {300, 1030}, {5, 3}};
    int seed = 0;
    for (auto& sh : shapes) {
        const int64_t rows = sh[0], cols = sh[1];
        auto x = drv::randn(rows * cols, 100 + seed++, 1.0);
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(x[i], (int)(i % 7) - 3);  // mixed magnitudes
        if (rows * cols > 1) x[x.size() / 3] = 0.0f;
        const auto mul = drv::randn(cols, 77, 1.0);
        for (bool poison : {false, true}) {
            auto xp = x;
            if (poison) xp[xp.size() / 2] = NAN, xp[xp.size() - 1] = INFINITY;
            std::vector<uint16_t> xb(xp.size());
            for (size_t i = 0; i < xp.size(); ++i) {
                uint32_t u;
                memcpy(&u, &xp[i], 4);
                xb[i] = (uint16_t)(u >> 16);  // bf16 by truncation: any bf16 value will do as input
            }
            const char* kinds[] = {"rows", "rows x col_mul", "cols transposed"};
            for (int kind = 0; kind < 3; ++kind)
                for (int dtype : {QFT_IN_F32, QFT_IN_BF16})
                    for (bool with_bad : {false, true}) {
                        if (!poison && with_bad) continue;
                        char at[160];
                        snprintf(at, sizeof at, "quantize %s %s (%lld, %lld)%s%s", kinds[kind], dtype == QFT_IN_F32 ? "f32" : "bf16", (long long)rows,
                                 (long long)cols, poison ? " NaN/Inf" : "", with_bad ? " bad counter" : "");
                        const Out c = quantize(-1, kind, dtype, xp, xb, mul, rows, cols, with_bad);
                        const Out e = quantize(0, kind, dtype, xp, xb, mul, rows, cols, with_bad);
                        std::vector<float> fc(c.q.begin(), c.q.end()), fe(e.q.begin(), e.q.end());
                        fc.insert(fc.end(), c.s.begin(), c.s.end()), fe.insert(fe.end(), e.s.begin(), e.s.end());
                        fc.push_back((float)c.rc), fe.push_back((float)e.rc), fc.push_back((float)c.bad), fe.push_back((float)e.bad);
                        drv::exact(at, fc, fe);
                    }
        }
        std::vector<int8_t> q(rows * cols);
        std::mt19937_64 r(5);
        for (auto& v : q) v = (int8_t)(r() % 255 - 127);
        std::vector<int8_t> tc(rows * cols);
        drv::status("transpose cpu", qft_transpose_i8(-1, (int64_t)q.data(), rows, cols, (int64_t)tc.data()));
        Dev<int8_t> dq(q), dt(rows * cols);
        drv::status("transpose emu", qft_transpose_i8(0, dq.addr(), rows, cols, dt.addr()));
        drv::exact("transpose_i8 (" + std::to_string(rows) + ", " + std::to_string(cols) + ")", tc, dt.host());
    }
}
