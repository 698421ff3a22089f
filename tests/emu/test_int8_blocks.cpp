// int8_blocks.cu and quantize_rows.cu vs native/cpu (Int8BlocksTest.gpuMatchesCpuBitForBit,
// QuantizeTest.gpuKernelMatchesCpuReferenceBitForBit): INT8 blocks with a NaN, sign kept and not, block sizes
// below, inside and above the row; dequantize; per-row absmax codes. All bit-exact.
// emu-cuda: int8_blocks.cu quantize_rows.cu
#include "driver.h"
#include "qft4j/int8_blocks.h"
#include "qft4j/quantize_rows.h"

using drv::Dev;

void run_cases() {
    const int64_t shapes[][2] = {{1, 1}, {3, 31}, {257, 1000}, {64, 4097}};
    for (auto& sh : shapes) {
        const int64_t rows = sh[0], cols = sh[1];
        auto x = drv::randn(rows * cols, 2 + cols, 1.0);
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(x[i], (int)(i % 5) - 2);
        const std::string at = "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
        {
            std::vector<int8_t> q(rows * cols);
            std::vector<float> s(rows);
            drv::status("rows cpu", qft_quantize_rows_absmax(-1, (int64_t)x.data(), rows, cols, (int64_t)q.data(), (int64_t)s.data()));
            Dev<float> dx(x), ds(rows);
            Dev<int8_t> dq(rows * cols);
            drv::status("rows emu", qft_quantize_rows_absmax(0, dx.addr(), rows, cols, dq.addr(), ds.addr()));
            drv::exact("quantize_rows_absmax codes " + at, q, dq.host());
            drv::exact("quantize_rows_absmax scales " + at, s, ds.host());
        }
        x[x.size() / 2] = NAN;
        for (int64_t block : {32, 256, 5000})
            for (int sign : {1, 0}) {
                const int64_t nb = (cols + block - 1) / block;
                std::vector<int8_t> q(rows * cols);
                std::vector<float> s(rows * nb), back(rows * cols);
                drv::status("blocks cpu", qft_int8_blocks_quantize(-1, (int64_t)x.data(), rows, cols, block, sign, (int64_t)q.data(), (int64_t)s.data()));
                drv::status("deq cpu", qft_int8_blocks_dequantize(-1, (int64_t)q.data(), (int64_t)s.data(), rows, cols, block, (int64_t)back.data()));
                Dev<float> dx(x), ds(rows * nb), dback(rows * cols);
                Dev<int8_t> dq(rows * cols);
                drv::status("blocks emu", qft_int8_blocks_quantize(0, dx.addr(), rows, cols, block, sign, dq.addr(), ds.addr()));
                drv::status("deq emu", qft_int8_blocks_dequantize(0, dq.addr(), ds.addr(), rows, cols, block, dback.addr()));
                const std::string w = at + " block " + std::to_string(block) + (sign ? " sign kept" : "");
                drv::exact("int8_blocks codes " + w, q, dq.host());
                drv::exact("int8_blocks scales " + w, s, ds.host());
                drv::exact("int8_blocks dequantized " + w, back, dback.host());
            }
    }
}
