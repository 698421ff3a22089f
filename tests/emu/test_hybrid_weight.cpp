// hybrid_quantize.cu and hybrid_weight.cu vs native/cpu/hybrid_weight.cpp (HybridWeightTest's GPU tests): the
// device selection (radix select, ordered compaction) on ties and heavy tails at every outlier mode, codes, scales,
// CSR, dequantize and re-selection bit-exact; the sparse add bit-exact for the tiled kernel (>= 17 tokens), within
// 1e-6 + 1e-5 |y| for the few-token one; the NaN/Inf message.
// emu-cuda: hybrid_quantize.cu hybrid_weight.cu runtime.cu
#include "driver.h"
#include "qft4j/hybrid_weight.h"

using drv::Dev;

namespace {

std::vector<float> heavy_tailed(size_t n, uint64_t seed) {
    std::mt19937_64 r(seed);
    std::normal_distribution<double> d;
    std::vector<float> x(n);
    for (auto& v : x) {
        double chi = 0;
        for (int k = 0; k < 3; ++k) chi += std::pow(d(r), 2);
        v = (float)(0.02 * d(r) / std::sqrt(chi / 3));
    }
    return x;
}

struct Hybrid {
    int64_t rows, cols, nnz = 0;
    std::vector<int8_t> codes;
    std::vector<float> scales, values;
    std::vector<int32_t> row_ptr, col_idx;
    int rc = 0;
    std::string msg;
    int64_t a(void* p) { return (int64_t)p; }

    Hybrid(int dev, const std::vector<float>& w, int64_t r, int64_t c, double frac, int per_row) : rows(r), cols(c) {
        drv::status("nnz", qft_hybrid_nnz(r, c, frac, per_row, &nnz));
        codes.assign(r * c, 0), scales.assign(r, 0), values.assign(std::max<int64_t>(nnz, 1), 0), row_ptr.assign(r + 1, 0), col_idx.assign(std::max<int64_t>(nnz, 1), 0);
        rc = qft_hybrid_quantize(dev, a((void*)w.data()), r, c, frac, per_row, a(codes.data()), a(scales.data()), a(row_ptr.data()), a(col_idx.data()),
                                 a(values.data()), nnz);
        if (rc) msg = qft_last_error();
    }
    std::vector<float> dequantize(int dev) {
        std::vector<float> out(rows * cols);
        drv::status("dequantize", qft_hybrid_dequantize(dev, rows, cols, a(codes.data()), a(scales.data()), a(row_ptr.data()), a(col_idx.data()),
                                                        a(values.data()), a(out.data())));
        return out;
    }
    void reselect(int dev, double frac, int per_row) {
        drv::status("reselect", qft_hybrid_reselect(dev, rows, cols, frac, per_row, a(codes.data()), a(scales.data()), a(row_ptr.data()),
                                                    a(col_idx.data()), a(values.data()), nnz));
    }
    // Everything as floats, for one bit-exact comparison.
    std::vector<float> all() const {
        std::vector<float> f(codes.begin(), codes.end());
        f.insert(f.end(), scales.begin(), scales.end());
        f.insert(f.end(), values.begin(), values.end());
        for (int32_t v : row_ptr) f.push_back((float)v);
        for (int32_t v : col_idx) f.push_back((float)v);
        return f;
    }
};

}  // namespace

void run_cases() {
    {  // gpuSelectionMatchesTheCpuOnTiesEdgesAndBadInput
        const int64_t rows = 257, cols = 1031;
        std::vector<float> ties(rows * cols);
        std::mt19937_64 r(11);
        for (auto& v : ties) {
            v = (float)((int)(r() % 8) - 4) * 0.125f;
            if (v == 0.0f && (r() & 1)) v = -0.0f;
        }
        auto tailed = heavy_tailed(rows * cols, 12);
        const std::pair<double, int> configs[] = {{0.0, 0}, {0.01, 0}, {0.3, 0}, {1.0, 0}, {0.0, 1}, {0.05, 1}, {1.0, 1}};
        for (int which = 0; which < 2; ++which)
            for (auto [frac, per_row] : configs) {
                const auto& w = which ? tailed : ties;
                char at[96];
                snprintf(at, sizeof at, "hybrid quantize %s fraction %.2f%s", which ? "heavy-tailed" : "ties", frac, per_row ? " per row" : "");
                Hybrid c(-1, w, rows, cols, frac, per_row);
                Dev<float> dw(w);
                Hybrid g(0, dw.host(), rows, cols, frac, per_row);
                drv::status(at, g.rc);
                drv::exact(at, c.all(), g.all());
                c.reselect(-1, frac, per_row);
                g.reselect(0, frac, per_row);
                drv::exact(std::string(at) + " reselected", c.all(), g.all());
            }
        tailed[5 * cols + 17] = INFINITY;
        Hybrid c(-1, tailed, rows, cols, 0.01, 0), g(0, tailed, rows, cols, 0.01, 0);
        const bool ok = c.rc == g.rc && c.rc != QFT_OK && c.msg == g.msg;
        printf("%s hybrid quantize NaN/Inf: status %d / %d, \"%s\"\n", ok ? "PASS" : "FAIL", c.rc, g.rc, g.msg.c_str());
        drv::failures += !ok;
    }
    {  // gpuQuantizeDequantizeAndSparseAddMatchTheCpu
        const int64_t rows = 300, cols = 1000;
        const auto w = heavy_tailed(rows * cols, 7);
        for (int64_t tokens : {9, 130}) {
            const auto x = heavy_tailed(tokens * cols, 8);
            for (auto [frac, per_row] : {std::pair<double, int>{0.01, 0}, {0.02, 1}, {0.2, 0}}) {
                char at[96];
                snprintf(at, sizeof at, "hybrid fraction %.2f%s tokens %lld", frac, per_row ? " per row" : "", (long long)tokens);
                Hybrid c(-1, w, rows, cols, frac, per_row), g(0, w, rows, cols, frac, per_row);
                drv::exact(std::string(at) + " quantize", c.all(), g.all());
                drv::exact(std::string(at) + " dequantize", c.dequantize(-1), g.dequantize(0));
                std::vector<float> cy(tokens * rows, 0.0f), gy(tokens * rows, 0.0f);
                drv::status("sparse add", qft_hybrid_sparse_add(-1, rows, cols, (int64_t)c.row_ptr.data(), (int64_t)c.col_idx.data(), (int64_t)c.values.data(),
                                                                (int64_t)x.data(), tokens, (int64_t)cy.data()));
                drv::status("sparse add", qft_hybrid_sparse_add(0, rows, cols, (int64_t)g.row_ptr.data(), (int64_t)g.col_idx.data(), (int64_t)g.values.data(),
                                                                (int64_t)x.data(), tokens, (int64_t)gy.data()));
                if (tokens >= 17) {
                    drv::exact(std::string(at) + " sparse add (tiled)", cy, gy);
                } else {
                    double worst = 0;
                    for (size_t i = 0; i < cy.size(); ++i) worst = std::fmax(worst, std::fabs(cy[i] - gy[i]) / (1e-6 + 1e-5 * std::fabs(cy[i])));
                    const bool ok = worst <= 1 && emu::errors() == 0;
                    printf("%s %-70s err/tol %.3g\n", ok ? "PASS" : "FAIL", (std::string(at) + " sparse add (few tokens)").c_str(), worst);
                    drv::failures += !ok;
                    emu::reset_errors();
                }
            }
        }
    }
}
