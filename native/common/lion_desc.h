// The tensor record of the fused Lion step (lion_step.h), unpacked from its int64 descriptor fields.
#pragma once

#include <cstdint>

#include "qft4j/lion_step.h"
#include "qft_math.h"

namespace qft {

struct LionTensor {
    int64_t rows, cols, tensor_id;
    int8_t* w_codes;    // (rows, cols)
    float* w_scales;    // (rows)
    int32_t* row_ptr;   // (rows+1)
    int32_t* col_idx;   // (nnz)
    float* values;      // (nnz)
    int8_t* g_codes;    // (rows, cols)
    float* g_scales;    // (rows, ceil(cols/g_block))
    int64_t g_block;
    int8_t* m_codes;    // (rows, cols)
    float* m_scales;    // (rows, ceil(cols/m_block))
    int64_t m_block;
};

QFT_HD LionTensor lion_tensor(const int64_t* d) {
    auto p = [&](int f) { return reinterpret_cast<void*>(static_cast<uintptr_t>(d[f])); };
    return LionTensor{d[QFT_LION_ROWS],
                      d[QFT_LION_COLS],
                      d[QFT_LION_TENSOR_ID],
                      static_cast<int8_t*>(p(QFT_LION_W_CODES)),
                      static_cast<float*>(p(QFT_LION_W_SCALES)),
                      static_cast<int32_t*>(p(QFT_LION_ROW_PTR)),
                      static_cast<int32_t*>(p(QFT_LION_COL_IDX)),
                      static_cast<float*>(p(QFT_LION_VALUES)),
                      static_cast<int8_t*>(p(QFT_LION_G_CODES)),
                      static_cast<float*>(p(QFT_LION_G_SCALES)),
                      d[QFT_LION_G_BLOCK],
                      static_cast<int8_t*>(p(QFT_LION_M_CODES)),
                      static_cast<float*>(p(QFT_LION_M_SCALES)),
                      d[QFT_LION_M_BLOCK]};
}

// Validates one record; returns a status with a message naming tensor i and its shape.
int check_lion_tensor(const LionTensor& t, int64_t i);

}  // namespace qft
