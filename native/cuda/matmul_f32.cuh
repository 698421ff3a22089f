// Shared by the fp32 linear-layer products' two CUDA implementations: the SIMT SGEMM (matmul_f32.cu,
// QFT_MATH_FP32) and the tensor-core TF32 GEMM (matmul_f32_tf32.cu, QFT_MATH_TF32).
#pragma once

#include <cstdint>

#include "check.cuh"

namespace qft {

// A logical (rows, K) operand: element (i, k) lives at p[i * ld + k] when its k is contiguous, else at
// p[k * ld + i]. For A (M, K) the rows are C's rows; B (K, N) is viewed transposed, its rows being C's columns.
struct MatOperand {
    const float* p;
    int64_t ld;
    bool vec;  // p and ld allow 16-byte loads
};

inline MatOperand mat_operand(int64_t address, int64_t ld) {
    return MatOperand{ptr<const float>(address), ld, ld % 4 == 0 && address % 16 == 0};
}

// The grid of tile x tile output blocks over C (M, N), or QFT_EUNSUPPORTED past CUDA's grid limits.
inline int tile_grid(const char* fn, int64_t M, int64_t N, int64_t tile, dim3& grid) {
    const int64_t gx = ceil_div(N, tile), gy = ceil_div(M, tile);
    if (gx > 0x7fffffffLL || gy > 65535)
        return qft_set_error(QFT_EUNSUPPORTED, "%s: a (%lld, %lld) result exceeds the CUDA grid limit", fn, (long long)M, (long long)N);
    grid = dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
    return QFT_OK;
}

// Which operands have the reduced index contiguous: NT y = x wᵀ (both), NN dx = dy w (A), TN dw = dyᵀ x (neither).
enum class MatForm { NT, NN, TN };

// C (M, N) (+)= A (M, K) · B (K, N) on tensor cores, operands rounded to TF32 (matmul_f32_tf32.cu).
int matmul_f32_tf32(const char* fn, int32_t device, MatForm form, MatOperand A, MatOperand B, int64_t c, int64_t M, int64_t N, int64_t K,
                    int32_t accumulate);

}  // namespace qft
