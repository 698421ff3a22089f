/* Residual connection: y += x over n fp32 values (reference: llm.c `residual_forward`). */
#ifndef QFT4J_RESIDUAL_H
#define QFT4J_RESIDUAL_H

#include "qft4j/core.h"

#ifdef __cplusplus
extern "C" {
#endif

QFT_API int qft_residual_add(int32_t device, int64_t y, int64_t x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
