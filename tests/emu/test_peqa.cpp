// PEQA on the GPU vs the CPU (native/cpu/peqa.cpp), as PeqaCudaTest compares them: dequantize bit for bit (peqa.cu);
// the forward (peqa_matmul.cu) within 1e-5 relative L2 error on the fp32 GEMV (<= 8 tokens) and within the bf16
// rounding bound per element on the mma.sync m16n8k16 bf16 kernel (32x64 and 128x128 tiles); the backward input and the
// scale gradient (peqa.cu) within 1e-5 relative L2 error; and the forward bit for bit on bf16-representable operands,
// where every product and partial sum is exact on both sides.
// emu-cuda: peqa.cu peqa_matmul.cu
#include "driver.h"
#include "qft4j/peqa.h"

using drv::Dev;

namespace {

constexpr int kGemvTokens = 8;  // PeqaCudaTest.GEMV_TOKENS: above, the tensor-core kernel

// A quantized (rows, cols) weight on the CPU (RTN, as PackedWeight.fromFloats) and its device copy.
struct Packed {
    int64_t rows, cols, group, words, groups;
    int32_t bits;
    std::vector<uint32_t> codes;
    std::vector<float> scales;
    std::vector<uint8_t> zeros;
    Packed(const std::vector<float>& w, int64_t rows_, int64_t cols_, int32_t bits_, int64_t group_size) : rows(rows_), cols(cols_), bits(bits_) {
        group = group_size == 0 || group_size >= cols ? std::max<int64_t>(1, cols) : group_size;  // 0: PackedWeight.PER_CHANNEL
        words = qft_peqa_words_per_row(bits, cols);
        groups = (cols + group - 1) / group;
        codes.resize(rows * words);
        scales.resize(rows * groups);
        zeros.resize(rows * groups);
        drv::status("rtn", qft_peqa_quantize_rtn(QFT_DEVICE_CPU, (int64_t)w.data(), rows, cols, bits, group, (int64_t)codes.data(), (int64_t)scales.data(),
                                                 (int64_t)zeros.data()));
    }
};

// PeqaReference.relError: ||got - want|| / ||want||.
double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double d = (double)got[i] - want[i];
        num += d * d, den += (double)want[i] * want[i];
    }
    return std::sqrt(num / den);
}

void rel_case(const std::string& what, const std::vector<float>& want, const std::vector<float>& got, double tol) {
    const double e = rel_l2(got, want);
    const bool ok = e < tol && emu::errors() == 0;
    printf("%s %-70s rel L2 err %.3g (tol %.0e)%s\n", ok ? "PASS" : "FAIL", what.c_str(), e, tol, emu::errors() ? " EMULATION ERRORS" : "");
    drv::failures += !ok;
    emu::reset_errors();
}

// PeqaCudaTest.assertWithinBf16Bound: |got - cpu| <= (2u + u^2 + 2 cols 2^-24) sum_c |x[t,c] What[r,c]|, u = 2^-8.
void bf16_bound_case(const std::string& what, const std::vector<float>& got, const std::vector<float>& cpu, const std::vector<float>& x,
                     const std::vector<float>& what_w, int64_t tokens, int64_t rows, int64_t cols) {
    const double u = std::ldexp(1.0, -8), bound = 2 * u + u * u + 2 * cols * std::ldexp(1.0, -24);
    double worst = 0;  // largest |got - cpu| / (bound * sum)
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
            double sum = 0;
            for (int64_t c = 0; c < cols; ++c) sum += std::fabs((double)x[t * cols + c] * what_w[r * cols + c]);
            const double err = std::fabs((double)got[t * rows + r] - cpu[t * rows + r]);
            worst = std::max(worst, std::isfinite(err) ? err / (bound * sum) : INFINITY);
        }
    const bool ok = worst <= 1 && emu::errors() == 0;
    printf("%s %-70s err / bf16 bound %.3g%s\n", ok ? "PASS" : "FAIL", what.c_str(), worst, emu::errors() ? " EMULATION ERRORS" : "");
    drv::failures += !ok;
    emu::reset_errors();
}

// PeqaCudaTest.cudaMatchesCpu. x_off: bytes added to the device x (a misaligned x takes the 4-byte cp.async path).
void matches_cpu(int32_t bits, int64_t rows, int64_t cols, int64_t group, int64_t tokens, size_t x_off = 0) {
    char at[128];
    snprintf(at, sizeof at, "%d-bit %lldx%lld group %lld tokens %lld%s", bits, (long long)rows, (long long)cols, (long long)group, (long long)tokens,
             x_off ? " x +4B" : "");
    const auto w = drv::randn(rows * cols, rows * 7 + cols, 0.05), x = drv::randn(tokens * cols, 31), dy = drv::randn(tokens * rows, 32);
    const Packed p(w, rows, cols, bits, group);
    Dev<uint32_t> dcodes(p.codes);
    Dev<float> dscales(p.scales);
    Dev<uint8_t> dzeros(p.zeros);
    const int64_t hc = (int64_t)p.codes.data(), hs = (int64_t)p.scales.data(), hz = (int64_t)p.zeros.data();

    std::vector<float> what(rows * cols);
    Dev<float> dwhat(rows * cols);
    drv::status("cpu dequantize", qft_peqa_dequantize(QFT_DEVICE_CPU, hc, hs, hz, rows, cols, bits, p.group, (int64_t)what.data()));
    drv::status("emu dequantize", qft_peqa_dequantize(0, dcodes.addr(), dscales.addr(), dzeros.addr(), rows, cols, bits, p.group, dwhat.addr()));
    drv::exact(std::string("peqa dequantize ") + at, what, dwhat.host());

    std::vector<float> yc(tokens * rows);
    Dev<float> dx(x, x_off), yg(tokens * rows);
    drv::status("cpu matmul", qft_peqa_matmul(QFT_DEVICE_CPU, (int64_t)x.data(), tokens, hc, hs, hz, rows, cols, bits, p.group, (int64_t)yc.data()));
    drv::status("emu matmul", qft_peqa_matmul(0, dx.addr(), tokens, dcodes.addr(), dscales.addr(), dzeros.addr(), rows, cols, bits, p.group, yg.addr()));
    if (tokens <= kGemvTokens) rel_case(std::string("peqa forward (GEMV) ") + at, yc, yg.host(), 1e-5);
    else bf16_bound_case(std::string("peqa forward (mma bf16) ") + at, yg.host(), yc, x, what, tokens, rows, cols);

    auto dxc = drv::randn(tokens * cols, 33);
    Dev<float> dxg(dxc);
    drv::status("cpu backward", qft_peqa_matmul_backward_input(QFT_DEVICE_CPU, (int64_t)dy.data(), tokens, hc, hs, hz, rows, cols, bits, p.group,
                                                               (int64_t)dxc.data()));
    Dev<float> ddy(dy);
    drv::status("emu backward", qft_peqa_matmul_backward_input(0, ddy.addr(), tokens, dcodes.addr(), dscales.addr(), dzeros.addr(), rows, cols, bits,
                                                               p.group, dxg.addr()));
    rel_case(std::string("peqa backward input (dx +=) ") + at, dxc, dxg.host(), 1e-5);

    std::vector<float> dsc(rows * p.groups, 0.0f);
    Dev<float> dsg(dsc);
    Dev<float> dx2(x);
    drv::status("cpu scale grad", qft_peqa_scale_grad(QFT_DEVICE_CPU, (int64_t)dy.data(), (int64_t)x.data(), tokens, hc, hz, rows, cols, bits, p.group,
                                                      (int64_t)dsc.data()));
    drv::status("emu scale grad",
                qft_peqa_scale_grad(0, ddy.addr(), dx2.addr(), tokens, dcodes.addr(), dzeros.addr(), rows, cols, bits, p.group, dsg.addr()));
    rel_case(std::string("peqa scale gradient ") + at, dsc, dsg.host(), 1e-5);
}

// PeqaCudaTest.forwardIsExactOnBf16RepresentableOperands: x = i/4 (|i| <= 8), What = (q - z0)/16 with every group holding
// q = 0 and q = 2^b - 1, so RTN gives s = 1/16, z = z0 exactly; all products and partial sums are exact in fp32.
void exact_forward(int32_t bits, int64_t rows, int64_t cols, int64_t group, int64_t tokens, size_t x_off = 0) {
    char at[128];
    snprintf(at, sizeof at, "%d-bit %lldx%lld group %lld tokens %lld%s", bits, (long long)rows, (long long)cols, (long long)group, (long long)tokens,
             x_off ? " x +4B" : "");
    const int max = (1 << bits) - 1, z0 = (1 << (bits - 1)) - 1;
    std::mt19937_64 rnd(bits * 1000 + cols);
    std::vector<float> w(rows * cols), x(tokens * cols);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const int q = c % group == 0 ? 0 : c % group == 1 ? max : (int)(rnd() % (uint64_t)(max + 1));
            w[r * cols + c] = (float)(q - z0) / 16.0f;
        }
    for (auto& v : x) v = (float)((int)(rnd() % 17) - 8) / 4.0f;
    const Packed p(w, rows, cols, bits, group);
    std::vector<float> what(rows * cols);
    drv::status("cpu dequantize", qft_peqa_dequantize(QFT_DEVICE_CPU, (int64_t)p.codes.data(), (int64_t)p.scales.data(), (int64_t)p.zeros.data(), rows,
                                                      cols, bits, p.group, (int64_t)what.data()));
    if (what != w) {
        printf("FAIL peqa exact forward %s: the construction is not exact\n", at);
        ++drv::failures;
        return;
    }
    Dev<uint32_t> dcodes(p.codes);
    Dev<float> dscales(p.scales);
    Dev<uint8_t> dzeros(p.zeros);
    std::vector<float> yc(tokens * rows);
    Dev<float> dx(x, x_off), yg(tokens * rows);
    drv::status("cpu matmul", qft_peqa_matmul(QFT_DEVICE_CPU, (int64_t)x.data(), tokens, (int64_t)p.codes.data(), (int64_t)p.scales.data(),
                                              (int64_t)p.zeros.data(), rows, cols, bits, p.group, (int64_t)yc.data()));
    drv::status("emu matmul", qft_peqa_matmul(0, dx.addr(), tokens, dcodes.addr(), dscales.addr(), dzeros.addr(), rows, cols, bits, p.group, yg.addr()));
    drv::exact(std::string("peqa forward on bf16-exact operands ") + at, yc, yg.host());
}

}  // namespace

void run_cases() {
    // PeqaCudaTest.cudaMatchesCpu (bits, rows, cols, group (0 = per channel), tokens): GEMV at <= 8 tokens (3-bit: the
    // row kernel), the 32x64 mma tile at 9..64 tokens, 128x128 above; partial groups and tiles, groups narrower than a
    // code word, columns not a multiple of 4 (the 4-byte cp.async path for x).
    const int64_t cases[][5] = {{4, 37, 515, 128, 1}, {4, 64, 256, 64, 8},   {4, 130, 300, 0, 9},   {3, 37, 515, 128, 3}, {3, 200, 1000, 256, 130},
                                {3, 5, 7, 3, 70},     {4, 96, 4096, 128, 16}, {3, 40, 100, 5, 4},   {4, 33, 2100, 64, 2}};
    for (auto& c : cases) matches_cpu((int32_t)c[0], c[1], c[2], c[3], c[4]);
    // cols % 4 == 0 but x misaligned: the mma kernel's scalar x path on a 128x128 tile; the 4-bit GEMV with a group
    // narrower than a code word (groups read from global memory).
    matches_cpu(4, 130, 300, 64, 70, 4);
    matches_cpu(4, 20, 300, 5, 3);
    // PeqaCudaTest.forwardIsExactOnBf16RepresentableOperands.
    const int64_t exact[][5] = {{4, 130, 300, 64, 70}, {3, 200, 1000, 128, 130}, {3, 37, 515, 128, 9}, {4, 96, 4096, 128, 16},
                                {3, 64, 700, 5, 100},  {4, 50, 302, 64, 5},       {3, 40, 100, 5, 4},   {4, 70, 3000, 128, 7}};
    for (auto& c : exact) exact_forward((int32_t)c[0], c[1], c[2], c[3], c[4]);
    exact_forward(4, 130, 300, 64, 70, 4);
}
