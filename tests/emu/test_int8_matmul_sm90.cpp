// The Hopper INT8 kernels as the sm90 library holds them (int8_matmul_sm90.cu and int8_matmul_tma.cu compiled with
// their sm_90a bodies and target "sm90", on the emulated 9.0 device whose driver has cuTensorMapEncodeTiled): the
// cp.async + wgmma kernel (QFT_MM_CUDA_WGMMA) and the TMA + mbarrier + wgmma kernel (QFT_MM_CUDA_TMA) requested
// explicitly, and AUTO (which takes TMA), with the cases of int8_matmul_cases.h.
// emu-cuda: int8_matmul.cu int8_matmul_sm90.cu:sm90 int8_matmul_tma.cu:sm90
#include "int8_matmul_cases.h"

void run_cases() {
    using namespace i8;
    expect("int8_matmul has_kernel (sm90 library, 9.0 device, cuTensorMapEncodeTiled): WGMMA, TMA, MMA, AUTO yes",
           qft_int8_matmul_has_kernel(0, QFT_MM_CUDA_WGMMA) == 1 && qft_int8_matmul_has_kernel(0, QFT_MM_CUDA_TMA) == 1 &&
               qft_int8_matmul_has_kernel(0, QFT_MM_CUDA_MMA) == 1 && qft_int8_matmul_has_kernel(0, QFT_MM_AUTO) == 1);
    kernel = QFT_MM_CUDA_WGMMA;
    kernel_prefix = "cuda-wgmma-";
    cases(100);
    expect("int8_matmul: both wgmma tiles ran (128x128, 128x256)",
           kernels_run.count("cuda-wgmma-128x128x64") && kernels_run.count("cuda-wgmma-128x256x64"));
    // The TMA kernel: its epilogues are chosen per output (TMA stores for int32, and for fp32 / bf16 stored whole with a
    // 16-byte aligned row pitch; the generic one for accumulate, split K, N % 4 or, for bf16, N % 8), so the same
    // shapes run all four; the persistent grid (4 SMs) walks several tiles per block where there are more than 4.
    kernel = QFT_MM_CUDA_TMA;
    kernel_prefix = "cuda-tma-";
    cases(500);
    // AUTO on this device picks the TMA kernel.
    kernel = QFT_MM_AUTO;
    kernel_prefix = "cuda-tma-";
    shape(130, 264, 200, true, 900);
    expect("int8_matmul: the TMA kernel ran", kernels_run.count("cuda-tma-wgmma-128x256x128") == 1);
}
