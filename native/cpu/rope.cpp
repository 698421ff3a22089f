// Rotary position embedding in place, both pair layouts: plain reference and the device dispatch.
// Reference: llama2.c `forward` (adjacent pairs), HF transformers `rotate_half`. CUDA twin: native/cuda/rope.cu.
#include "../common/internal.h"
#include "engine_util.h"
#include "parallel.h"
#include "qft4j/rope.h"

namespace qft {

// Rows [r0, r1) of x (n, heads * head_size); row r is at position r % T.
void rope_ref(float* x, int64_t r0, int64_t r1, int64_t T, int64_t heads, int64_t head_size, int32_t layout,
              const float* cos, const float* sin, int32_t inverse) {
    const int64_t half = head_size / 2;
    for (int64_t r = r0; r < r1; ++r) {
        const float *c = cos + (r % T) * half, *s = sin + (r % T) * half;
        for (int64_t h = 0; h < heads; ++h) {
            float* base = x + (r * heads + h) * head_size;
            for (int64_t i = 0; i < half; ++i) {
                float fc = c[i], fs = inverse ? -s[i] : s[i];
                float* a = layout == QFT_ROPE_ADJACENT_PAIRS ? base + 2 * i : base + i;
                float* b = layout == QFT_ROPE_ADJACENT_PAIRS ? a + 1 : a + half;
                float v0 = *a, v1 = *b;
                *a = v0 * fc - v1 * fs;
                *b = v0 * fs + v1 * fc;
            }
        }
    }
}

}  // namespace qft

extern "C" int qft_rope(int32_t device, int64_t x, int64_t n, int64_t T, int64_t heads, int64_t head_size, int32_t layout,
                        int64_t cos, int64_t sin, int32_t inverse) {
    if (x == 0 || cos == 0 || sin == 0 || n < 0 || T <= 0 || n % T != 0 || heads <= 0 || head_size <= 0 || head_size % 2 != 0 ||
        (layout != QFT_ROPE_ADJACENT_PAIRS && layout != QFT_ROPE_ROTATE_HALF))
        return qft_set_error(QFT_EINVAL,
                             "qft_rope: bad arguments (x (%lld, %lld x %lld), T %lld, layout %d; need n a multiple of T, "
                             "an even head size, layout 0 or 1, non-null pointers)",
                             (long long)n, (long long)heads, (long long)head_size, (long long)T, layout);
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_rope", device, x, n, T, heads, head_size, layout, cos, sin, inverse);
    return qft::guarded("qft_rope", [&] {
        qft::parallel_for(n, qft::grain_for(2 * heads * head_size), [&](int64_t r0, int64_t r1) {
            qft::rope_ref(qft::ptr<float>(x), r0, r1, T, heads, head_size, layout, qft::ptr<float>(cos), qft::ptr<float>(sin), inverse);
        });
        return QFT_OK;
    });
}
