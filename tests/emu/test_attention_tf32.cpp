// attention_tf32.cu (QFT_MATH_TF32 forward and backward) vs native/cpu/attention.cpp, as AttentionTf32CudaTest:
// lse, out, dq, dk, dv, delta within 1e-3 of each output's largest |value|, at its shapes (B, T, heads, kv heads,
// head size): 64-row tile tails, grouped kv heads, head sizes padded to 64 and 128, the float4 and scalar tile loads.
// emu-cuda: attention.cu attention_tf32.cu
#include "driver.h"
#include "qft4j/attention.h"

using drv::Dev;

namespace {

constexpr double kRel = 1e-3;  // AttentionTf32CudaTest.REL

void run(int64_t B, int64_t T, int64_t nh, int64_t nkv, int64_t hs) {
    const int64_t n = B * T;
    const auto q = drv::randn(n * nh * hs, 41), k = drv::randn(n * nkv * hs, 42), v = drv::randn(n * nkv * hs, 43),
               dout = drv::randn(n * nh * hs, 44);
    std::vector<float> want[6] = {std::vector<float>(n * nh), std::vector<float>(n * nh * hs), std::vector<float>(n * nh * hs),
                                  std::vector<float>(n * nkv * hs), std::vector<float>(n * nkv * hs), std::vector<float>(n * nh)};
    auto a = [](const std::vector<float>& x) { return (int64_t)x.data(); };
    drv::status("cpu forward", qft_attention_forward(-1, a(q), a(k), a(v), B, T, nh, nkv, hs, a(want[0]), a(want[1]), QFT_MATH_TF32));
    drv::status("cpu backward", qft_attention_backward(-1, a(dout), a(q), a(k), a(v), a(want[1]), a(want[0]), B, T, nh, nkv, hs, a(want[5]),
                                                       a(want[2]), a(want[3]), a(want[4]), QFT_MATH_TF32));
    Dev<float> dq_(q), dk_(k), dv_(v), ddo(dout), lse(n * nh), out(n * nh * hs), delta(n * nh), dq(n * nh * hs), dk(n * nkv * hs), dv(n * nkv * hs);
    drv::status("emu forward", qft_attention_forward(0, dq_.addr(), dk_.addr(), dv_.addr(), B, T, nh, nkv, hs, lse.addr(), out.addr(), QFT_MATH_TF32));
    drv::status("emu backward", qft_attention_backward(0, ddo.addr(), dq_.addr(), dk_.addr(), dv_.addr(), out.addr(), lse.addr(), B, T, nh, nkv, hs,
                                                       delta.addr(), dq.addr(), dk.addr(), dv.addr(), QFT_MATH_TF32));
    const Dev<float>* got[6] = {&lse, &out, &dq, &dk, &dv, &delta};
    const char* names[6] = {"lse", "out", "dq", "dk", "dv", "delta"};
    char at[96];
    snprintf(at, sizeof at, "B %lld T %lld heads %lld kv %lld hs %lld", (long long)B, (long long)T, (long long)nh, (long long)nkv, (long long)hs);
    for (int i = 0; i < 6; ++i) drv::close(std::string("attention_tf32 ") + names[i] + " " + at, want[i], got[i]->host(), kRel);
}

}  // namespace

void run_cases() {
    const int64_t shapes[][5] = {{2, 7, 6, 2, 6}, {2, 200, 8, 2, 64}, {1, 130, 4, 4, 128}, {1, 65, 6, 3, 48}, {1, 300, 4, 1, 16}, {1, 129, 2, 2, 100}};
    for (auto& s : shapes) run(s[0], s[1], s[2], s[3], s[4]);
}
