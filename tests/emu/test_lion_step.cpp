// lion_step.cu (qft_cuda_quant_lion_step) vs lion_step_ref (native/cpu/lion_step.cpp), as
// QuantLionTest.gpuStepIsBitIdenticalToTheCpuReference: weight codes, scales and outliers, momentum codes and scales
// bit-exact after several steps, in every rounding mode, over shapes that take lion_step_cuda<T, R> for each
// (T, R) group and lion_step_cuda_rows. Rerun on a newer kernel file: CUDA_DIR=dir tests/emu/run.sh tests/emu/test_lion_step.cpp
// emu-cuda: lion_step.cu
#include "driver.h"
#include "qft4j/hybrid_weight.h"
#include "qft4j/int8_blocks.h"
#include "qft4j/lion_step.h"

namespace {

// One tensor's state, in host memory (the emulator's device memory is host memory).
struct Slot {
    int64_t rows, cols, block, nnz = 0;
    std::vector<int8_t> w_codes, g_codes, m_codes;
    std::vector<float> w_scales, values, g_scales, m_scales;
    std::vector<int32_t> row_ptr, col_idx;

    Slot(int64_t r, int64_t c, int64_t b, uint64_t seed) : rows(r), cols(c), block(b) {
        const auto w = drv::randn(r * c, seed, 0.02);
        drv::status("nnz", qft_hybrid_nnz(r, c, 0.01, 0, &nnz));
        w_codes.resize(r * c), w_scales.resize(r), row_ptr.resize(r + 1), col_idx.resize(nnz), values.resize(nnz);
        drv::status("hybrid quantize", qft_hybrid_quantize(-1, (int64_t)w.data(), r, c, 0.01, 0, (int64_t)w_codes.data(), (int64_t)w_scales.data(),
                                                           (int64_t)row_ptr.data(), (int64_t)col_idx.data(), (int64_t)values.data(), nnz));
        const int64_t nb = (c + b - 1) / b;
        g_codes.resize(r * c), m_codes.assign(r * c, 0), g_scales.resize(r * nb), m_scales.assign(r * nb, 0.0f);
    }

    void gradient(uint64_t seed, bool poison) {
        auto g = drv::randn(rows * cols, seed, 1e-2);
        if (poison) g[g.size() / 2] = NAN;
        drv::status("gradient", qft_int8_blocks_quantize(-1, (int64_t)g.data(), rows, cols, block, 0, (int64_t)g_codes.data(), (int64_t)g_scales.data()));
    }

    std::vector<int64_t> desc(int64_t id) {
        std::vector<int64_t> d(QFT_LION_DESC_FIELDS);
        d[QFT_LION_ROWS] = rows, d[QFT_LION_COLS] = cols, d[QFT_LION_TENSOR_ID] = id;
        d[QFT_LION_W_CODES] = (int64_t)w_codes.data(), d[QFT_LION_W_SCALES] = (int64_t)w_scales.data();
        d[QFT_LION_ROW_PTR] = (int64_t)row_ptr.data(), d[QFT_LION_COL_IDX] = (int64_t)col_idx.data(), d[QFT_LION_VALUES] = (int64_t)values.data();
        d[QFT_LION_G_CODES] = (int64_t)g_codes.data(), d[QFT_LION_G_SCALES] = (int64_t)g_scales.data(), d[QFT_LION_G_BLOCK] = block;
        d[QFT_LION_M_CODES] = (int64_t)m_codes.data(), d[QFT_LION_M_SCALES] = (int64_t)m_scales.data(), d[QFT_LION_M_BLOCK] = block;
        return d;
    }
};

struct Shape {
    int64_t rows, cols, block;
};

// `steps` steps over all shapes at once on `device`; step `bad` (if >= 0) has a NaN gradient in tensor 0.
std::vector<Slot> run(int device, const std::vector<Shape>& shapes, int rounding, int steps, int bad, std::vector<int>& flags) {
    std::vector<Slot> slots;
    for (size_t i = 0; i < shapes.size(); ++i) slots.emplace_back(shapes[i].rows, shapes[i].cols, shapes[i].block, 100 + i);
    int32_t* flag = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&flag), 4);
    for (int s = 0; s < steps; ++s) {
        std::vector<int64_t> desc;
        for (size_t i = 0; i < slots.size(); ++i) {
            slots[i].gradient(1000 * s + i, s == bad && i == 0);
            auto d = slots[i].desc((int64_t)i);
            desc.insert(desc.end(), d.begin(), d.end());
        }
        drv::status("quant_lion_step", qft_quant_lion_step(device, desc.data(), (int64_t)slots.size(), 1e-3f, 0.9f, 0.99f, 0.1f, s + 1, 42,
                                                           rounding, (int64_t)flag));
        flags.push_back(*flag);
    }
    cudaFree(flag);
    return slots;
}

}  // namespace

void run_cases() {
    // Groups: cols <= 2048 -> 128 x 1, <= 4096 -> 128 x 2, <= 8192 -> 256 x 2, <= 12288 -> 256 x 3, <= 16384 -> 256 x 4 (16-multiples,
    // blocks multiples of 16); everything else lion_step_cuda_rows. QuantLionTest's shapes with fewer rows, and block sizes
    // that are not multiples of 16 or do not divide the row.
    const std::vector<Shape> shapes = {{64, 32, 256}, {16, 1024, 256}, {8, 4097, 256}, {3, 5, 256},  {2, 8192, 256},  {2, 11008, 256},
                                       {2, 16384, 256}, {2, 16400, 256}, {4, 2048, 256}, {4, 2064, 48}, {4, 4096, 100}, {5, 96, 32}};
    const char* names[] = {"stochastic", "nearest", "stochastic-weyl"};
    for (int rounding : {QFT_ROUND_STOCHASTIC, QFT_ROUND_NEAREST, QFT_ROUND_STOCHASTIC_WEYL})
        for (int bad : {-1, 1}) {
            std::vector<int> fc, fe;
            const int steps = 3;
            auto cpu = run(-1, shapes, rounding, steps, bad, fc);
            auto emu = run(0, shapes, rounding, steps, bad, fe);
            for (size_t i = 0; i < shapes.size(); ++i) {
                char at[160];
                snprintf(at, sizeof at, "quant_lion_step %s%s (%lld, %lld) block %lld", names[rounding], bad >= 0 ? " NaN at step 2" : "",
                         (long long)shapes[i].rows, (long long)shapes[i].cols, (long long)shapes[i].block);
                const Slot &a = cpu[i], &b = emu[i];
                // One line per tensor: all five outputs must match.
                std::vector<float> fa(a.w_codes.begin(), a.w_codes.end()), fb(b.w_codes.begin(), b.w_codes.end());
                for (auto* v : {&a.w_scales, &a.values, &a.m_scales}) fa.insert(fa.end(), v->begin(), v->end());
                for (auto* v : {&b.w_scales, &b.values, &b.m_scales}) fb.insert(fb.end(), v->begin(), v->end());
                fa.insert(fa.end(), a.m_codes.begin(), a.m_codes.end());
                fb.insert(fb.end(), b.m_codes.begin(), b.m_codes.end());
                drv::exact(at, fa, fb);
            }
            drv::exact(std::string("quant_lion_step non-finite flags ") + names[rounding], std::vector<float>(fc.begin(), fc.end()),
                       std::vector<float>(fe.begin(), fe.end()));
        }
}
