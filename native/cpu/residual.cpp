// Residual add y += x: plain reference and the device dispatch. Reference: llm.c `residual_forward`.
// CUDA twin: native/cuda/residual.cu.
#include "../common/internal.h"
#include "parallel.h"
#include "qft4j/residual.h"

namespace qft {

void residual_add_ref(float* y, const float* x, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] += x[i];
}

}  // namespace qft

extern "C" int qft_residual_add(int32_t device, int64_t y, int64_t x, int64_t n) {
    if (y == 0 || x == 0 || n < 0)
        return qft_set_error(QFT_EINVAL, "qft_residual_add: bad arguments (n %lld, null pointer?)", (long long)n);
    if (device != QFT_DEVICE_CPU) return qft::cuda_call("qft_cuda_residual_add", device, y, x, n);
    return qft::guarded("qft_residual_add", [&] {
        qft::parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) { qft::residual_add_ref(qft::ptr<float>(y), qft::ptr<float>(x), i0, i1); });
        return QFT_OK;
    });
}
