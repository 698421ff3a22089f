// Shared by the emulator's drivers: seeded data, the comparisons of the Java GPU tests, and one line per case.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_emu.h"
#include "qft4j/core.h"

namespace drv {

extern int failures;

inline std::vector<float> randn(size_t n, uint64_t seed, double std = 1.0) {
    std::mt19937_64 r(seed);
    std::normal_distribution<double> d(0.0, std);
    std::vector<float> v(n);
    for (auto& x : v) x = (float)d(r);
    return v;
}

// A device (emulated) copy of host data, freed at scope exit; addr() is what the extern "C" API takes.
template <class T>
struct Dev {
    T* p = nullptr;
    size_t n = 0;
    explicit Dev(const std::vector<T>& h, size_t offset_bytes = 0) : n(h.size()) { alloc(offset_bytes), memcpy(p, h.data(), n * sizeof(T)); }
    explicit Dev(size_t n_, size_t offset_bytes = 0) : n(n_) { alloc(offset_bytes); }
    void alloc(size_t off) {
        void* b = nullptr;
        cudaMalloc(&b, n * sizeof(T) + off);
        base = b;
        p = reinterpret_cast<T*>(static_cast<char*>(b) + off);
    }
    int64_t addr() const { return (int64_t)(uintptr_t)p; }
    std::vector<T> host() const { return std::vector<T>(p, p + n); }
    ~Dev() { cudaFree(base); }
    void* base = nullptr;
};

// The Java tests' Close.assertClose: max |got - want| <= rel * max |want|, got finite, want not all zero.
inline void close(const std::string& what, const std::vector<float>& want, const std::vector<float>& got, double rel) {
    double scale = 0, err = 0;
    size_t worst = 0;
    bool finite = true;
    for (size_t i = 0; i < want.size(); ++i) {
        if (!std::isfinite(got[i])) finite = false;
        scale = std::fmax(scale, std::fabs(want[i]));
        const double d = std::fabs((double)got[i] - want[i]);
        if (d > err || std::isnan(d)) err = std::isnan(d) ? INFINITY : d, worst = i;
    }
    const bool ok = finite && scale > 0 && err <= rel * scale && emu::errors() == 0;
    printf("%s %-70s rel err %.3g (tol %.0e)%s%s\n", ok ? "PASS" : "FAIL", what.c_str(), scale > 0 ? err / scale : INFINITY, rel,
           finite ? "" : " non-finite output", emu::errors() ? " EMULATION ERRORS" : "");
    if (!ok) {
        ++failures;
        if (worst < want.size()) printf("     worst at %zu: want %.9g got %.9g\n", worst, want[worst], got[worst]);
    }
    emu::reset_errors();
}

// Bit-for-bit equality (NaNs compared by their bits too).
template <class T>
void exact(const std::string& what, const std::vector<T>& want, const std::vector<T>& got) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i)
        if (memcmp(&want[i], &got[i], sizeof(T)) != 0 && bad++ == 0) first = i;
    const bool ok = bad == 0 && want.size() == got.size() && emu::errors() == 0;
    printf("%s %-70s %s%s\n", ok ? "PASS" : "FAIL", what.c_str(), bad ? "differs" : "bit-exact", emu::errors() ? " EMULATION ERRORS" : "");
    if (!ok) {
        ++failures;
        if (bad) {
            printf("     %zu of %zu differ; first at %zu: want ", bad, want.size(), first);
            if constexpr (std::is_floating_point<T>::value) printf("%.9g got %.9g\n", (double)want[first], (double)got[first]);
            else printf("%lld got %lld\n", (long long)want[first], (long long)got[first]);
        }
    }
    emu::reset_errors();
}

inline void status(const std::string& what, int rc) {
    if (rc != QFT_OK) {
        printf("FAIL %s: status %d: %s\n", what.c_str(), rc, qft_last_error());
        ++failures;
    }
}

}  // namespace drv
