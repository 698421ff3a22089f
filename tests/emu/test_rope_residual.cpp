// Rotary position embedding (rope.cu) and the residual add (residual.cu) vs native/cpu/rope.cpp and residual.cpp, as
// DeviceOpsCudaTest.ropeBothLayoutsAndDirections (1e-5 of max) and DeviceOpsCudaTest.residual (bit-exact) compare them.
// emu-cuda: rope.cu residual.cu
#include "driver.h"
#include "qft4j/residual.h"
#include "qft4j/rope.h"

using drv::Dev;

namespace {

constexpr double kRel = 1e-5;  // DeviceOpsCudaTest.REL

// DeviceOps.ropeTables: freq = 1 / theta^(2i / head_size) and angle = pos * freq in float, cos/sin in double.
void tables(int64_t T, int64_t hs, std::vector<float>& cos, std::vector<float>& sin) {
    const int64_t half = hs / 2;
    cos.resize(T * half), sin.resize(T * half);
    for (int64_t p = 0; p < T; ++p)
        for (int64_t i = 0; i < half; ++i) {
            const float freq = 1.0f / (float)std::pow(10000.0, (double)((float)(2 * i) / (float)hs));
            const float val = (float)p * freq;
            cos[p * half + i] = (float)std::cos((double)val);
            sin[p * half + i] = (float)std::sin((double)val);
        }
}

void rope(int64_t n, int64_t T, int64_t heads, int64_t hs) {
    std::vector<float> cos, sin;
    tables(T, hs, cos, sin);
    Dev<float> dcos(cos), dsin(sin);
    for (int32_t layout : {QFT_ROPE_ADJACENT_PAIRS, QFT_ROPE_ROTATE_HALF})
        for (int32_t inverse : {0, 1}) {
            auto want = drv::randn(n * heads * hs, 10);
            Dev<float> got(want);
            drv::status("cpu rope", qft_rope(QFT_DEVICE_CPU, (int64_t)want.data(), n, T, heads, hs, layout, (int64_t)cos.data(), (int64_t)sin.data(), inverse));
            drv::status("emu rope", qft_rope(0, got.addr(), n, T, heads, hs, layout, dcos.addr(), dsin.addr(), inverse));
            char at[128];
            snprintf(at, sizeof at, "rope %s%s n %lld T %lld heads %lld head size %lld", layout == QFT_ROPE_ADJACENT_PAIRS ? "adjacent pairs" : "rotate half",
                     inverse ? " inverse" : "", (long long)n, (long long)T, (long long)heads, (long long)hs);
            drv::close(at, want, got.host(), kRel);
        }
}

void residual(int64_t n) {
    auto want = drv::randn(n, 26);
    const auto x = drv::randn(n, 27);
    Dev<float> got(want), dx(x);
    drv::status("cpu residual", qft_residual_add(QFT_DEVICE_CPU, (int64_t)want.data(), (int64_t)x.data(), n));
    drv::status("emu residual", qft_residual_add(0, got.addr(), dx.addr(), n));
    drv::exact("residual add y += x, n " + std::to_string(n), want, got.host());
}

}  // namespace

void run_cases() {
    rope(300, 100, 8, 64);  // DeviceOpsCudaTest's shape: 3 sequences of 100 positions, 8 heads of 64
    rope(14, 7, 3, 6);      // odd head count, 3 pairs per head, one partial block
    residual(70001);        // DeviceOpsCudaTest.residual: a grid-stride tail
    residual(1);
}
