// The INT8 GEMM drivers' shared cases (test_int8_matmul.cpp: the mma.sync kernel of the "emu" library;
// test_int8_matmul_sm90.cpp: the wgmma and TMA kernels of the sm90 one): each CUDA kernel vs the CPU reference
// (native/cpu/int8_matmul.cpp, QFT_MM_CPU_REF) bit for bit, as Int8MatmulTest compares them: the int32 product, the
// fp32 and bf16 outputs with row/col scales and bias, stored and accumulated, and with no optional input.
#pragma once
#include <set>

#include "driver.h"
#include "qft4j/int8_matmul.h"

namespace i8 {
namespace {

using drv::Dev;


std::vector<int8_t> random_i8(size_t n, uint64_t seed) {
    std::mt19937_64 r(seed);
    std::vector<int8_t> v(n);
    for (auto& x : v) x = (int8_t)(r() % 256);  // -128 .. 127
    return v;
}

// Int8MatmulTest.scales: uniform in [1e-4, 1e-2).
std::vector<float> scales(size_t n, uint64_t seed) {
    std::mt19937_64 r(seed);
    std::uniform_real_distribution<double> d(1e-4, 1e-2);
    std::vector<float> v(n);
    for (auto& x : v) x = (float)d(r);
    return v;
}

std::vector<uint16_t> bf16_of(const std::vector<float>& f) {
    std::vector<uint16_t> h(f.size());
    for (size_t i = 0; i < f.size(); ++i) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        h[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // finite inputs: round to nearest even
    }
    return h;
}

std::set<std::string> kernels_run;

template <class T>
int64_t H(const std::vector<T>& v) {
    static T none;
    return (int64_t)(v.empty() ? &none : v.data());
}

// Checks that the kernel that ran is the one asked for (the entry never substitutes one silently).
void ran(const std::string& want_prefix) {
    const std::string name = qft_int8_matmul_last_kernel();
    kernels_run.insert(name);
    if (name.compare(0, want_prefix.size(), want_prefix) != 0 && name != "cuda-empty") {
        printf("FAIL kernel %s ran, %s... requested\n", name.c_str(), want_prefix.c_str());
        ++drv::failures;
    }
}

// The kernel the cases request, and the prefix of the name qft_int8_matmul_last_kernel must then report.
int kernel = QFT_MM_CUDA_MMA;
const char* kernel_prefix = "cuda-mma-";

// One shape with `kernel`: the int32 product; if scaled, the fp32 and bf16 outputs with row scale, column scale and
// bias, stored and accumulated onto random outputs, and the fp32 output with every optional input null.
void run(const char* what, int64_t M, int64_t N, int64_t K, const std::vector<int8_t>& a, const std::vector<int8_t>& b, size_t off_a, size_t off_b,
         bool scaled, uint64_t seed) {
    char at[160];
    snprintf(at, sizeof at, "%s %s (%lld,%lld,%lld)%s", kernel_prefix, what, (long long)M, (long long)N, (long long)K,
             off_a || off_b ? " misaligned A/B" : "");
    Dev<int8_t> da(a, off_a), db(b, off_b);
    const int64_t ha = H(a), hb = H(b);
    if (K <= QFT_INT8_MATMUL_MAX_EXACT_K) {
        std::vector<int32_t> want(M * N);
        Dev<int32_t> got(M * N);
        drv::status("cpu i32", qft_int8_matmul_i32(QFT_DEVICE_CPU, QFT_MM_CPU_REF, ha, hb, H(want), M, N, K));
        drv::status("emu i32", qft_int8_matmul_i32(0, kernel, da.addr(), db.addr(), got.addr(), M, N, K));
        ran(kernel_prefix);
        drv::exact(std::string("int8_matmul i32 ") + at + " " + qft_int8_matmul_last_kernel(), want, got.host());
    }
    if (!scaled) return;
    const auto rs = scales(M, seed), cs = scales(N, seed + 1), bias = scales(N, seed + 2), y0 = drv::randn(M * N, seed + 3, 0.01);
    Dev<float> drs(rs), dcs(cs), dbias(bias);
    const int64_t hrs = H(rs), hcs = H(cs), hbias = H(bias);
    for (int acc : {0, 1}) {
        const char* mode = acc ? " acc" : "";
        std::vector<float> want = acc ? y0 : std::vector<float>(M * N, 0.0f);
        Dev<float> got(want);
        drv::status("cpu f32", qft_int8_matmul(QFT_DEVICE_CPU, QFT_MM_CPU_REF, ha, hrs, hb, hcs, hbias, H(want), QFT_OUT_F32, acc, M, N, K));
        drv::status("emu f32", qft_int8_matmul(0, kernel, da.addr(), drs.addr(), db.addr(), dcs.addr(), dbias.addr(), got.addr(), QFT_OUT_F32, acc,
                                               M, N, K));
        ran(kernel_prefix);
        drv::exact(std::string("int8_matmul f32 rs cs bias") + mode + " " + at, want, got.host());

        std::vector<uint16_t> hwant = acc ? bf16_of(y0) : std::vector<uint16_t>(M * N, 0);
        Dev<uint16_t> hgot(hwant);
        drv::status("cpu bf16", qft_int8_matmul(QFT_DEVICE_CPU, QFT_MM_CPU_REF, ha, hrs, hb, hcs, hbias, H(hwant), QFT_OUT_BF16, acc, M, N,
                                                K));
        drv::status("emu bf16", qft_int8_matmul(0, kernel, da.addr(), drs.addr(), db.addr(), dcs.addr(), dbias.addr(), hgot.addr(),
                                                QFT_OUT_BF16, acc, M, N, K));
        ran(kernel_prefix);
        drv::exact(std::string("int8_matmul bf16 rs cs bias") + mode + " " + at, hwant, hgot.host());
    }
    std::vector<float> want(M * N, 0.0f);
    Dev<float> got(want);
    drv::status("cpu f32 plain", qft_int8_matmul(QFT_DEVICE_CPU, QFT_MM_CPU_REF, ha, 0, hb, 0, 0, H(want), QFT_OUT_F32, 0, M, N, K));
    drv::status("emu f32 plain", qft_int8_matmul(0, kernel, da.addr(), 0, db.addr(), 0, 0, got.addr(), QFT_OUT_F32, 0, M, N, K));
    ran(kernel_prefix);
    drv::exact(std::string("int8_matmul f32 no scales/bias ") + at, want, got.host());
}

void shape(int64_t M, int64_t N, int64_t K, bool scaled, uint64_t seed, size_t off_a = 0, size_t off_b = 0) {
    run("random", M, N, K, random_i8(M * K, seed), random_i8(N * K, seed + 1), off_a, off_b, scaled, seed + 2);
}

void extremes(int64_t M, int64_t N, int64_t K, bool scaled, uint64_t seed) {
    run("all -128", M, N, K, std::vector<int8_t>(M * K, -128), std::vector<int8_t>(N * K, -128), 0, 0, scaled, seed);
}

void expect(const std::string& what, bool ok) {
    printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
    drv::failures += !ok;
    emu::reset_errors();
}

// Int8MatmulTest.cudaKernelsMatchTheCpuReferenceBitForBit's cases for the current `kernel`, at the sizes the emulator runs
// in seconds (random operands and all -128).
void cases(uint64_t seed) {
    // K tails (3, 77, 1000) take the padding copy; M and N from 1 to tile tails; one k tile and many.
    const int64_t shapes[][3] = {{1, 1, 1}, {1, 300, 77}, {300, 1, 77}, {7, 5, 3}, {129, 257, 1000}, {128, 128, 64}, {1, 1, 16}, {300, 1, 16},
                                 {1, 257, 4112}, {130, 513, 272}};
    for (auto& s : shapes) {
        shape(s[0], s[1], s[2], true, seed += 10);
        extremes(s[0], s[1], s[2], false, seed += 10);
    }
    shape(256, 200, 208, true, seed += 10);
    shape(520, 700, 144, false, seed += 10);
    shape(256, 384, 4096, false, seed += 10);     // the Java test's long-K shape: the pipelines wrap around their stages
    extremes(256, 384, 4096, false, seed += 10);  // |sum| = 2^26
    // Misaligned A or B, and K % 16 != 0: the zero-padded copy.
    shape(33, 65, 64, true, seed += 10, 1, 0);
    shape(33, 65, 80, true, seed += 10, 0, 8);
    shape(70, 40, 45, true, seed += 10, 3, 5);
    // M = 0, N = 0, K = 0 (bias only; accumulate adds it).
    shape(0, 5, 7, true, seed += 10);
    shape(5, 0, 7, true, seed += 10);
    shape(6, 9, 0, true, seed += 10);
    // The largest exact K (131071 x 16384 = 2^31 - 16384 with all -128) and a split K (chunks of 65536 added in fp32):
    // Int8MatmulTest.largestExactKReachesTheInt32LimitWithoutOverflow and cudaSplitKAndBf16MatchTheCpu.
    extremes(2, 3, QFT_INT8_MATMUL_MAX_EXACT_K, false, seed += 10);
    run("random split K", 3, 17, 2 * QFT_INT8_MATMUL_K_CHUNK + 1000, random_i8(3 * (2 * QFT_INT8_MATMUL_K_CHUNK + 1000), 7),
        random_i8(17 * (2 * QFT_INT8_MATMUL_K_CHUNK + 1000), 8), 0, 0, true, seed += 10);
}


}  // namespace
}  // namespace i8
