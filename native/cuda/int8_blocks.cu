// INT8 blocks on the GPU; the CPU references are in native/cpu/int8_blocks.cpp and agree bit for bit
// (same element functions from qft_math.h). One thread block per quantization block.
#include "../common/qft_math.h"
#include "check.cuh"
#include "int8_block.cuh"
#include "reduce.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void int8_blocks_quantize_kernel(const float* __restrict__ x, int64_t cols, int64_t block, int64_t nb,
                                            int preserve_sign, int8_t* __restrict__ codes, float* __restrict__ scales) {
    qft::quantize_int8_block(x, cols, block, nb, codes, scales, [preserve_sign](float v, float inv, int64_t) {
        return preserve_sign ? qft::quantize_sign_kept(v, inv) : qft::quantize_nearest(v, inv);
    });
}

__global__ void int8_blocks_dequantize_kernel(const int8_t* __restrict__ codes, const float* __restrict__ scales,
                                              int64_t rows, int64_t cols, int64_t block, float* __restrict__ out) {
    const int64_t nb = qft::div_up(cols, block), n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        out[i] = qft::fmul(static_cast<float>(codes[i]), scales[r * nb + c / block]);
    }
}

}  // namespace

extern "C" QFT_API int qft_cuda_int8_blocks_quantize(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t block,
                                                     int32_t preserve_sign, int64_t codes, int64_t scales) {
    const int64_t nb = qft::div_up(cols, block), grid = rows * nb;
    if (grid == 0) return QFT_OK;
    if (grid > 0x7fffffffLL)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_int8_blocks_quantize: (%lld, %lld) in blocks of %lld exceeds the CUDA grid",
                             (long long)rows, (long long)cols, (long long)block);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int8_blocks_quantize_kernel<<<static_cast<unsigned>(grid), kThreads, 0, qft::stream()>>>(
        qft::ptr<const float>(x), cols, block, nb, preserve_sign, qft::ptr<int8_t>(codes), qft::ptr<float>(scales));
    QFT_LAUNCH_CHECK("int8_blocks_quantize_kernel");
    return QFT_OK;
}

extern "C" QFT_API int qft_cuda_int8_blocks_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t rows,
                                                       int64_t cols, int64_t block, int64_t out) {
    const int64_t n = rows * cols;
    if (n == 0) return QFT_OK;
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(qft::ceil_div(n, kThreads), 65535));
    int8_blocks_dequantize_kernel<<<grid, kThreads, 0, qft::stream()>>>(qft::ptr<const int8_t>(codes),
                                                                        qft::ptr<const float>(scales), rows, cols, block,
                                                                        qft::ptr<float>(out));
    QFT_LAUNCH_CHECK("int8_blocks_dequantize_kernel");
    return QFT_OK;
}
