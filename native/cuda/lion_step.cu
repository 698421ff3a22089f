// The fused quantized Lion step on the GPU (lion_step_cuda); the CPU reference is lion_step_ref in
// native/cpu/lion_step.cpp. Both run lion_element/quantize_code* of qft_math.h per element, and every
// reduction is a max (order-free), so the results are bit-identical.
//
// One launch covers all tensors (multi-tensor apply): one thread block per weight row across the
// tensors, found by binary search over the tensors' first global rows. Per row:
//   pass A: new dense weights -> the row's new absmax scale (nothing written);
//   outliers: updated in place in fp32;
//   per momentum block: new momentum -> block scale (block-local reduce), then codes of momentum and
//   dense weights (stochastic rounding keyed by (seed, step, tensor, element), or low-discrepancy over steps).
// Re-reading a row (a few KB of int8) between passes hits L1/L2, so DRAM sees each byte about once.
// A pre-pass over the gradient scales sets the non-finite flag that the step kernel reads: no host sync.
#include <vector>

#include "../common/lion_desc.h"
#include "../common/qft_math.h"
#include "check.cuh"
#include "reduce.cuh"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int find_tensor(const int64_t* first_row, int64_t n, int64_t g) {
    int64_t lo = 0, hi = n - 1;  // last i with first_row[i] <= g
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (first_row[mid] <= g) lo = mid; else hi = mid - 1;
    }
    return static_cast<int>(lo);
}

__global__ void lion_nonfinite_prepass(const int64_t* __restrict__ desc, int64_t n_tensors, int* __restrict__ flag) {
    for (int64_t i = 0; i < n_tensors; ++i) {
        const qft::LionTensor t = qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS);
        const int64_t n = t.rows * qft::div_up(t.cols, t.g_block);
        for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x)
            if (!qft::finite(t.g_scales[k])) *flag = 1;
    }
}

struct Element {
    float g, m, w;
};

// Block indices use 32-bit division (cols < 2^31, checked on the host): 64-bit division costs ~100 instructions.
__device__ __forceinline__ Element load(const qft::LionTensor& t, int64_t r, int64_t c, int64_t gnb, int64_t mnb, float ws) {
    const int64_t i = r * t.cols + c;
    const uint32_t cu = static_cast<uint32_t>(c);
    return Element{qft::fmul(static_cast<float>(t.g_codes[i]), t.g_scales[r * gnb + cu / static_cast<uint32_t>(t.g_block)]),
                   qft::fmul(static_cast<float>(t.m_codes[i]), t.m_scales[r * mnb + cu / static_cast<uint32_t>(t.m_block)]),
                   qft::fmul(static_cast<float>(t.w_codes[i]), ws)};
}

__global__ void __launch_bounds__(kThreads) lion_step_cuda(const int64_t* __restrict__ desc, const int64_t* __restrict__ first_row,
                                                          int64_t n_tensors, qft::LionConsts k, uint64_t seed, uint64_t step,
                                                          int rounding, const int* __restrict__ flag) {
    if (*flag) return;
    extern __shared__ uint32_t outlier[];  // bitmap over the row's columns
    __shared__ float sh[32];
    const int64_t gr = blockIdx.x;
    const int i = find_tensor(first_row, n_tensors, gr);
    const qft::LionTensor t = qft::lion_tensor(desc + i * QFT_LION_DESC_FIELDS);
    const int64_t r = gr - first_row[i], cols = t.cols;
    const int64_t gnb = qft::div_up(cols, t.g_block), mnb = qft::div_up(cols, t.m_block);
    const int64_t words = qft::div_up(cols, 32);
    const int32_t j0 = t.row_ptr[r], j1 = t.row_ptr[r + 1];
    for (int64_t w = threadIdx.x; w < words; w += blockDim.x) outlier[w] = 0;
    __syncthreads();
    for (int32_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) atomicOr(&outlier[t.col_idx[j] >> 5], 1u << (t.col_idx[j] & 31));
    __syncthreads();
    auto is_outlier = [&](int64_t c) { return (outlier[c >> 5] >> (c & 31)) & 1u; };
    const float ws = t.w_scales[r];

    float absmax = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        if (is_outlier(c)) continue;
        Element e = load(t, r, c, gnb, mnb, ws);
        qft::lion_element(k, e.g, &e.w, &e.m);
        absmax = fmaxf(absmax, fabsf(e.w));
    }
    const float s = qft::absmax_scale(qft::block_max(absmax, sh));

    for (int32_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
        Element e = load(t, r, t.col_idx[j], gnb, mnb, ws);
        e.w = t.values[j];
        qft::lion_element(k, e.g, &e.w, &e.m);
        t.values[j] = e.w;
    }

    const bool stochastic = rounding != QFT_ROUND_NEAREST, weyl = rounding == QFT_ROUND_STOCHASTIC_WEYL;
    const uint64_t stream = qft::rounding_stream(seed, step, static_cast<uint64_t>(t.tensor_id), weyl);
    const uint64_t offset = qft::rounding_offset(step, weyl);
    for (int64_t b = 0; b < mnb; ++b) {
        const int64_t c0 = b * t.m_block, c1 = min(cols, c0 + t.m_block);
        float mmax = 0.0f;
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            Element e = load(t, r, c, gnb, mnb, ws);
            qft::lion_element(k, e.g, &e.w, &e.m);
            mmax = fmaxf(mmax, fabsf(e.m));
        }
        const float ms = qft::absmax_scale(qft::block_max(mmax, sh));
        for (int64_t c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            Element e = load(t, r, c, gnb, mnb, ws);
            qft::lion_element(k, e.g, &e.w, &e.m);
            const int64_t idx = r * cols + c;
            t.m_codes[idx] = static_cast<int8_t>(qft::quantize_code_sign_kept(e.m, ms));
            if (!is_outlier(c))
                t.w_codes[idx] = static_cast<int8_t>(qft::quantize_code(e.w, s, stochastic, stochastic ? qft::rng_bits(stream, idx) + offset : 0));
        }
        __syncthreads();  // every thread has read the old scale of block b (in load) before it is replaced
        if (threadIdx.x == 0) t.m_scales[r * mnb + b] = ms;
    }
    if (threadIdx.x == 0) t.w_scales[r] = s;
}

}  // namespace

extern "C" QFT_API int qft_cuda_quant_lion_step(int32_t device, const int64_t* desc, int64_t n_tensors, float lr, float beta1,
                                                float beta2, float weight_decay, int64_t step, int64_t seed, int32_t rounding,
                                                int64_t found_nonfinite) {
    // Host side: [descriptors | first global row of each tensor, then the total] in one upload.
    std::vector<int64_t> host(desc, desc + n_tensors * QFT_LION_DESC_FIELDS);
    int64_t total_rows = 0, max_cols = 0;
    for (int64_t i = 0; i < n_tensors; ++i) {
        host.push_back(total_rows);
        total_rows += desc[i * QFT_LION_DESC_FIELDS + QFT_LION_ROWS];
        max_cols = std::max(max_cols, desc[i * QFT_LION_DESC_FIELDS + QFT_LION_COLS]);
    }
    host.push_back(total_rows);
    const int64_t smem = qft::div_up(max_cols, 32) * 4;
    for (int64_t i = 0; i < n_tensors; ++i)
        if (desc[i * QFT_LION_DESC_FIELDS + QFT_LION_G_BLOCK] > 0x7fffffffLL || desc[i * QFT_LION_DESC_FIELDS + QFT_LION_M_BLOCK] > 0x7fffffffLL)
            return qft_set_error(QFT_EUNSUPPORTED, "qft_quant_lion_step: tensor %lld has a block size beyond 2^31", (long long)i);
    if (total_rows > 0x7fffffffLL || smem > 48 * 1024)
        return qft_set_error(QFT_EUNSUPPORTED, "qft_quant_lion_step: %lld rows / %lld columns exceed the CUDA kernel's limits",
                             (long long)total_rows, (long long)max_cols);
    QFT_CUDA_CHECK(cudaSetDevice(device));
    int* flag = qft::ptr<int>(found_nonfinite);
    QFT_CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), qft::stream()));
    if (total_rows == 0) return QFT_OK;
    int64_t* dev = nullptr;
    const size_t bytes = host.size() * sizeof(int64_t);
    QFT_CUDA_CHECK(cudaMallocAsync(&dev, bytes, qft::stream()));
    QFT_CUDA_CHECK(cudaMemcpyAsync(dev, host.data(), bytes, cudaMemcpyHostToDevice, qft::stream()));
    lion_nonfinite_prepass<<<256, kThreads, 0, qft::stream()>>>(dev, n_tensors, flag);
    QFT_LAUNCH_CHECK("lion_nonfinite_prepass");
    const qft::LionConsts k = qft::lion_consts(lr, beta1, beta2, weight_decay);
    lion_step_cuda<<<static_cast<unsigned>(total_rows), kThreads, smem, qft::stream()>>>(
        dev, dev + n_tensors * QFT_LION_DESC_FIELDS, n_tensors, k, static_cast<uint64_t>(seed), static_cast<uint64_t>(step),
        rounding, flag);
    QFT_LAUNCH_CHECK("lion_step_cuda");
    QFT_CUDA_CHECK(cudaFreeAsync(dev, qft::stream()));
    return QFT_OK;
}
