// int8_matmul.cu's mma.sync m16n8k32 INT8 GEMM as the emulator's "emu" library holds it (the wgmma and TMA kernels of
// int8_matmul_sm90.cu / int8_matmul_tma.cu are compiled without their sm_90a bodies and refused, so AUTO is the
// mma.sync kernel), with the cases of int8_matmul_cases.h.
// emu-cuda: int8_matmul.cu int8_matmul_sm90.cu int8_matmul_tma.cu
#include "int8_matmul_cases.h"

void run_cases() {
    using namespace i8;
    // What the emulated library offers: the mma.sync kernel (compute capability 9.0 is reported, but the library is not the
    // sm90 one), so WGMMA and TMA are refused with QFT_EUNSUPPORTED, never replaced silently.
    expect("int8_matmul has_kernel: MMA and AUTO yes, WGMMA and TMA no",
           qft_int8_matmul_has_kernel(0, QFT_MM_CUDA_MMA) == 1 && qft_int8_matmul_has_kernel(0, QFT_MM_AUTO) == 1 &&
               qft_int8_matmul_has_kernel(0, QFT_MM_CUDA_WGMMA) == 0 && qft_int8_matmul_has_kernel(0, QFT_MM_CUDA_TMA) == 0);
    {
        Dev<int8_t> a(16 * 16), b(16 * 16);
        Dev<int32_t> c(16 * 16);
        const int w = qft_int8_matmul_i32(0, QFT_MM_CUDA_WGMMA, a.addr(), b.addr(), c.addr(), 16, 16, 16);
        const bool w_msg = strstr(qft_last_error(), "wgmma kernel needs an sm_90 GPU") != nullptr;
        const int t = qft_int8_matmul_i32(0, QFT_MM_CUDA_TMA, a.addr(), b.addr(), c.addr(), 16, 16, 16);
        const bool t_msg = strstr(qft_last_error(), "TMA kernel needs an sm_90 GPU") != nullptr;
        expect("int8_matmul: WGMMA and TMA requests fail with QFT_EUNSUPPORTED and say why", w == QFT_EUNSUPPORTED && t == QFT_EUNSUPPORTED && w_msg && t_msg);
    }
    kernel = QFT_MM_CUDA_MMA;
    kernel_prefix = "cuda-mma-";
    cases(100);
    // The three mma tiles the entry picks on the emulated 4-SM device: 64x64, 128x128 (>= 4 tiles of 128x128), 128x256
    // (>= 8 tiles of 128x256).
    expect("int8_matmul: all three mma.sync tiles ran (64x64, 128x128, 128x256)",
           kernels_run.count("cuda-mma-64x64x64") && kernels_run.count("cuda-mma-128x128x64") && kernels_run.count("cuda-mma-128x256x64"));
    // AUTO on this library picks the mma.sync kernel.
    kernel = QFT_MM_AUTO;
    shape(130, 264, 200, true, 900);
}
