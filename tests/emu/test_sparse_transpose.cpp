// sparse_transpose.cu (qft_cuda_hybrid_sparse_transpose) vs native/cpu/sparse_transpose.cpp: t_ptr, t_idx, t_values
// bit-exact, with and without nnz_bound, for a whole CSR and a row range; corrupt inputs (a column outside the grid,
// a decreasing row_ptr, more entries than the bound) give the CPU's status and message, or one count in `bad`.
// CUB's radix sort is replaced by a stable std::sort (include/cub/device/device_radix_sort.cuh).
// emu-cuda: sparse_transpose.cu
#include "driver.h"
#include "qft4j/hybrid_weight.h"

namespace {

struct Csr {
    int64_t rows, cols;
    std::vector<int32_t> row_ptr, col_idx;
    std::vector<float> values;
};

Csr random_csr(int64_t rows, int64_t cols, double density, uint64_t seed) {
    std::mt19937_64 r(seed);
    Csr c{rows, cols, {0}, {}, {}};
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j)
            if (std::uniform_real_distribution<double>(0, 1)(r) < density) {
                c.col_idx.push_back((int32_t)j);
                c.values.push_back((float)std::normal_distribution<double>(0, 1)(r));
            }
        c.row_ptr.push_back((int32_t)c.col_idx.size());
    }
    return c;
}

void run(const std::string& what, const Csr& c, int64_t r0, int64_t r1, int64_t bound, bool with_bad) {
    const int64_t nnz = c.row_ptr[r1] - c.row_ptr[r0], len = std::max<int64_t>(std::max<int64_t>(nnz, bound), 1);
    std::vector<int32_t> rp(c.row_ptr.begin() + r0, c.row_ptr.begin() + r1 + 1);
    std::vector<int32_t> tp[2], ti[2];
    std::vector<float> tv[2];
    int bad[2] = {0, 0}, rc[2];
    std::string msg[2];
    for (int dev : {0, 1}) {
        tp[dev].assign(c.cols + 1, -7), ti[dev].assign(len, -7), tv[dev].assign(len, -7.0f);
        int32_t* badp = nullptr;
        if (with_bad) cudaMalloc(reinterpret_cast<void**>(&badp), 4), *badp = 0;
        rc[dev] = qft_hybrid_sparse_transpose(dev == 0 ? -1 : 0, r1 - r0, c.cols, (int64_t)rp.data(), (int64_t)c.col_idx.data(), (int64_t)c.values.data(),
                                              (int64_t)tp[dev].data(), (int64_t)ti[dev].data(), (int64_t)tv[dev].data(), bound, (int64_t)badp);
        msg[dev] = rc[dev] ? qft_last_error() : "";
        if (badp) bad[dev] = *badp, cudaFree(badp);
    }
    if (rc[0] != QFT_OK || bad[0] != 0) {  // a corrupt input: the verdicts must agree, the outputs are unspecified
        drv::exact(what + " status, bad count", std::vector<int>{rc[0], bad[0]}, std::vector<int>{rc[1], bad[1]});
        if (msg[0] != msg[1]) printf("FAIL %s: message\n     cpu: %s\n     emu: %s\n", what.c_str(), msg[0].c_str(), msg[1].c_str()), ++drv::failures;
        return;
    }
    drv::status(what, rc[1]);
    tv[0].resize(nnz), tv[1].resize(nnz), ti[0].resize(nnz), ti[1].resize(nnz);
    drv::exact(what + " t_ptr", tp[0], tp[1]);
    drv::exact(what + " t_idx", ti[0], ti[1]);
    drv::exact(what + " t_values", tv[0], tv[1]);
}

}  // namespace

void run_cases() {
    const Csr c = random_csr(70, 300, 0.03, 5);
    const int64_t nnz = c.row_ptr.back();
    for (bool with_bad : {false, true}) {
        const std::string b = with_bad ? " (bad counter)" : "";
        run("sparse_transpose 70x300" + b, c, 0, 70, 0, with_bad);
        run("sparse_transpose 70x300 bound nnz+37" + b, c, 0, 70, nnz + 37, with_bad);
        run("sparse_transpose rows 20..51" + b, c, 20, 51, 0, with_bad);
        run("sparse_transpose rows 20..51 bound nnz" + b, c, 20, 51, nnz, with_bad);
        Csr bad_col = c;
        bad_col.col_idx[c.row_ptr[30] + 1] = 300;
        run("sparse_transpose column outside the grid" + b, bad_col, 0, 70, 0, with_bad);
        Csr bad_rp = c;
        bad_rp.row_ptr[40] = bad_rp.row_ptr[41] + 1;
        run("sparse_transpose decreasing row_ptr" + b, bad_rp, 0, 70, nnz + 5, with_bad);
        run("sparse_transpose more entries than the bound" + b, c, 0, 70, nnz - 3, with_bad);
    }
}
