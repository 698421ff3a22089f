// matmul_f32_tf32.cu (QFT_MATH_TF32) vs native/cpu/matmul_f32.cpp: the three forms y = x wᵀ (nt), dx = dy w (nn),
// dw = dyᵀ x (tn), storing and accumulating, with DeviceOpsCudaTest's tolerance (3e-5 of the largest |expected|).
// emu-cuda: matmul_f32.cu matmul_f32_tf32.cu
#include "driver.h"
#include "qft4j/matmul_f32.h"

using drv::Dev;

namespace {

constexpr double kTf32Rel = 3e-5;  // DeviceOpsCudaTest.TF32_REL

// offset: bytes added to every device pointer; 4 leaves ld % 4 == 0 but breaks 16-byte alignment (the scalar
// cp.async path), 0 with ld % 4 == 0 takes the 16-byte path.
void run(int64_t n, int64_t out, int64_t in, bool accumulate, size_t offset) {
    const auto x = drv::randn(n * in, 20), w = drv::randn(out * in, 21), dy = drv::randn(n * out, 22);
    const auto y0 = drv::randn(n * out, 23), dx0 = drv::randn(n * in, 24), dw0 = drv::randn(out * in, 25);
    const int acc = accumulate;
    char at[128];
    snprintf(at, sizeof at, "n %lld out %lld in %lld%s%s", (long long)n, (long long)out, (long long)in, accumulate ? " acc" : "",
             offset ? " +4B (scalar cp.async)" : "");
    std::vector<float> want[3] = {y0, dx0, dw0};
    drv::status("cpu nt", qft_matmul_f32_nt(QFT_DEVICE_CPU, (int64_t)x.data(), (int64_t)w.data(), n, out, in, (int64_t)want[0].data(), acc, QFT_MATH_TF32));
    drv::status("cpu nn", qft_matmul_f32_nn(QFT_DEVICE_CPU, (int64_t)dy.data(), (int64_t)w.data(), n, out, in, (int64_t)want[1].data(), acc, QFT_MATH_TF32));
    drv::status("cpu tn", qft_matmul_f32_tn(QFT_DEVICE_CPU, (int64_t)dy.data(), (int64_t)x.data(), n, out, in, (int64_t)want[2].data(), acc, QFT_MATH_TF32));
    Dev<float> dx_(x, offset), dw_(w, offset), ddy(dy, offset), dy0(y0, offset), ddx0(dx0, offset), ddw0(dw0, offset);
    drv::status("emu nt", qft_matmul_f32_nt(0, dx_.addr(), dw_.addr(), n, out, in, dy0.addr(), acc, QFT_MATH_TF32));
    drv::close(std::string("matmul_tf32 nt y  ") + at, want[0], dy0.host(), kTf32Rel);
    drv::status("emu nn", qft_matmul_f32_nn(0, ddy.addr(), dw_.addr(), n, out, in, ddx0.addr(), acc, QFT_MATH_TF32));
    drv::close(std::string("matmul_tf32 nn dx ") + at, want[1], ddx0.host(), kTf32Rel);
    drv::status("emu tn", qft_matmul_f32_tn(0, ddy.addr(), dx_.addr(), n, out, in, ddw0.addr(), acc, QFT_MATH_TF32));
    drv::close(std::string("matmul_tf32 tn dw ") + at, want[2], ddw0.host(), kTf32Rel);
}

}  // namespace

void run_cases() {
    // DeviceOpsCudaTest.matmulFormsAcrossTileBoundaries' shapes (n, out, in), storing and accumulating.
    const int64_t shapes[][3] = {{1, 7, 5}, {130, 67, 129}, {257, 300, 190}, {64, 64, 64}};
    for (auto& s : shapes)
        for (bool acc : {false, true}) run(s[0], s[1], s[2], acc, 0);
    // Whole tiles and several 16-float slices on the 16-byte cp.async path; the same shape misaligned (4-byte path);
    // a K tail of 1..3 floats past a multiple of 4 with aligned rows (partial 16-byte chunks, zero-filled).
    // All three forms on whole interior tiles (every row/column tile full, K % 16 == 0, 16-byte operands): the fetch
    // from running addresses (Tile::fetch_interior), k-contiguous and row-contiguous operands alike.
    run(256, 256, 128, false, 0);
    run(256, 256, 128, true, 0);
    run(256, 128, 96, false, 0);
    run(256, 128, 96, true, 4);
    run(136, 132, 36, false, 0);
    run(129, 140, 20, true, 4);
}
