// INT8 blocks (gradients, Lion momentum): plain references and the device dispatch.
// The CUDA twins are in native/cuda/int8_blocks.cu and agree bit for bit (shared qft_math.h).
#include "../common/internal.h"
#include "../common/qft_math.h"
#include "parallel.h"
#include "qft4j/int8_blocks.h"

namespace qft {

// x: (rows, cols) fp32; codes: (rows, cols) int8; scales: (rows, ceil(cols/block)) fp32.
void int8_blocks_quantize_ref(const float* x, int64_t rows, int64_t cols, int64_t block, bool preserve_sign,
                              int8_t* codes, float* scales) {
    const int64_t nb = div_up(cols, block);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t b = 0; b < nb; ++b) {
            const int64_t c0 = b * block, c1 = c0 + block < cols ? c0 + block : cols;
            const float* xb = x + r * cols;
            int8_t* qb = codes + r * cols;
            float absmax = 0.0f;
            bool ok = true;
            for (int64_t c = c0; c < c1; ++c) {
                ok &= finite(xb[c]);
                float a = fabsf_(xb[c]);
                absmax = a > absmax ? a : absmax;
            }
            if (!ok) {
                scales[r * nb + b] = NAN;
                for (int64_t c = c0; c < c1; ++c) qb[c] = 0;
                continue;
            }
            scales[r * nb + b] = absmax_scale(absmax);
            const float inv = absmax_inv_scale(absmax);
            for (int64_t c = c0; c < c1; ++c)
                qb[c] = static_cast<int8_t>(preserve_sign ? quantize_sign_kept(xb[c], inv) : quantize_nearest(xb[c], inv));
        }
    }
}

void int8_blocks_dequantize_ref(const int8_t* codes, const float* scales, int64_t rows, int64_t cols, int64_t block,
                                float* out) {
    const int64_t nb = div_up(cols, block);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            out[r * cols + c] = fmul(static_cast<float>(codes[r * cols + c]), scales[r * nb + c / block]);
}

}  // namespace qft

namespace {

int check_blocks(const char* fn, int64_t a, int64_t b, int64_t c, int64_t rows, int64_t cols, int64_t block) {
    if (a == 0 || b == 0 || c == 0 || rows < 0 || cols < 0 || block < 1)
        return qft_set_error(QFT_EINVAL, "%s: bad arguments (rows %lld, cols %lld, block %lld, null pointer?)", fn,
                             (long long)rows, (long long)cols, (long long)block);
    return QFT_OK;
}

}  // namespace

extern "C" int qft_int8_blocks_quantize(int32_t device, int64_t x, int64_t rows, int64_t cols, int64_t block,
                                        int32_t preserve_sign, int64_t codes, int64_t scales) {
    if (int rc = check_blocks("qft_int8_blocks_quantize", x, codes, scales, rows, cols, block)) return rc;
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_int8_blocks_quantize", device, x, rows, cols, block, preserve_sign, codes, scales);
    return qft::guarded("qft_int8_blocks_quantize", [&] {
        const int64_t nb = qft::div_up(cols, block);
        qft::parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
            qft::int8_blocks_quantize_ref(qft::ptr<float>(x) + r0 * cols, r1 - r0, cols, block, preserve_sign != 0,
                                          qft::ptr<int8_t>(codes) + r0 * cols, qft::ptr<float>(scales) + r0 * nb);
        });
        return QFT_OK;
    });
}

extern "C" int qft_int8_blocks_dequantize(int32_t device, int64_t codes, int64_t scales, int64_t rows, int64_t cols,
                                          int64_t block, int64_t out) {
    if (int rc = check_blocks("qft_int8_blocks_dequantize", codes, scales, out, rows, cols, block)) return rc;
    if (device != QFT_DEVICE_CPU)
        return qft::cuda_call("qft_cuda_int8_blocks_dequantize", device, codes, scales, rows, cols, block, out);
    return qft::guarded("qft_int8_blocks_dequantize", [&] {
        const int64_t nb = qft::div_up(cols, block);
        qft::parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
            qft::int8_blocks_dequantize_ref(qft::ptr<int8_t>(codes) + r0 * cols, qft::ptr<float>(scales) + r0 * nb, r1 - r0,
                                            cols, block, qft::ptr<float>(out) + r0 * cols);
        });
        return QFT_OK;
    });
}
