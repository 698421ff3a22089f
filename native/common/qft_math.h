// Element-wise arithmetic shared by the CPU references and the CUDA kernels of QFT (hybrid weights,
// INT8 gradient/momentum blocks, the fused Lion step). One definition compiled by both compilers is
// what makes CPU and CUDA results bit-identical: every float op is a single IEEE-rounded op (on the
// device through __fmul_rn/__fadd_rn, which nvcc never contracts into an FMA; the CPU library is
// baseline x86-64, which has no FMA to contract into), and the RNG is integer-only.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define QFT_HD __host__ __device__ __forceinline__
#else
#define QFT_HD inline
#include <cmath>
#endif

namespace qft {

QFT_HD float fmul(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

QFT_HD float fadd(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

QFT_HD float fdiv(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

QFT_HD int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

QFT_HD float fabsf_(float x) { return x < 0.0f ? -x : x; }

QFT_HD bool finite(float x) {
#ifdef __CUDA_ARCH__
    return isfinite(x);
#else
    return std::isfinite(x);
#endif
}

// Round half to even, as __float2int_rn and std::nearbyint in the default rounding mode.
QFT_HD int round_even(float x) {
#ifdef __CUDA_ARCH__
    return __float2int_rn(x);
#else
    return static_cast<int>(std::nearbyint(x));
#endif
}

// splitmix64's finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix with full avalanche.
QFT_HD uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A bijective 32-bit mix ("lowbias32", C. Wellons' hash-prospector, 2020): two multiplies, bias 0.17 of the
// ideal avalanche. It is the per-element hash because a 64-bit multiply costs 3-4 instructions on the GPU
// and the per-element RNG dominated the Lion step's instruction count (bench/results/lion-step-h100.md).
QFT_HD uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

// Counter-based RNG, with no state: a resumed run that restores (seed, step) replays the same bits.
// rng_stream keys a tensor at an optimizer step (64-bit, once per call); rng_row keys one row of it (64-bit,
// once per row); rng_bits gives 32 bits for column `col` of that row from one 32-bit mix. Distinct columns of
// a row get distinct inputs to the bijective mix, so a row never repeats a draw (rows have < 2^32 columns).
QFT_HD uint64_t rng_stream(uint64_t seed, uint64_t step, uint64_t tensor) {
    return mix64(mix64(mix64(seed) ^ step) ^ (tensor * 0xd1b54a32d192ed03ULL));
}
QFT_HD uint64_t rng_row(uint64_t stream, uint64_t row) { return mix64(stream ^ (row * 0x9e3779b97f4a7c15ULL)); }
QFT_HD uint32_t rng_bits(uint64_t row_key, uint32_t col) {
    return mix32(static_cast<uint32_t>(row_key) ^ (col * 0x9e3779b9u)) + static_cast<uint32_t>(row_key >> 32);
}

// The rounding bits of element (row, col) are rng_bits(rng_row(rounding_stream(...), row), col) + rounding_offset(...).
// Independent draws (weyl false): a fresh stream every step. Low-discrepancy draws (weyl true,
// QFT_ROUND_STOCHASTIC_WEYL): the element starts at a random point fixed by (seed, tensor) and advances by
// the golden-ratio Weyl increment 2^32/phi every step, so its uniforms over consecutive steps are spread
// evenly over [0, 1) while each one alone is still uniform (unbiased). A weight nudged the same way by a
// fraction of a code for many steps then moves by the sum of the nudges to within about one code, instead
// of a random walk with sqrt(steps) spread (the time-domain analogue of error diffusion, with no memory).
QFT_HD uint64_t rounding_stream(uint64_t seed, uint64_t step, uint64_t tensor, bool weyl) {
    return weyl ? rng_stream(seed, ~0ULL, tensor) : rng_stream(seed, step, tensor);
}
QFT_HD uint32_t rounding_offset(uint64_t step, bool weyl) { return weyl ? static_cast<uint32_t>(step) * 0x9e3779b9u : 0u; }

QFT_HD uint32_t float_bits(float x) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(x);
#else
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
#endif
}

QFT_HD float bits_float(uint32_t u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float x;
    std::memcpy(&x, &u, sizeof x);
    return x;
#endif
}

// A uniform float in [0, 1) from the top 23 bits of `bits`, without an int-to-float conversion (a quarter-rate
// instruction on the GPU): the bits become the mantissa of a float in [1, 2), and subtracting 1 is exact.
QFT_HD float unit_float(uint32_t bits) {
    return fadd(bits_float(0x3f800000u | (bits >> 9)), -1.0f);
}

// Clamp to [-127, 127]; NaN gives -127 on both backends (fmaxf returns the non-NaN operand, as the ternary does).
QFT_HD float clamp127f(float v) {
#ifdef __CUDA_ARCH__
    return fminf(fmaxf(v, -127.0f), 127.0f);
#else
    v = v > -127.0f ? v : -127.0f;
    return v < 127.0f ? v : 127.0f;
#endif
}

QFT_HD int floor_int(float x) {
#ifdef __CUDA_ARCH__
    return __float2int_rd(x);
#else
    return static_cast<int>(std::floor(x));
#endif
}

// Groups (rows, blocks) are quantized with scale = absmax/127, stored for dequantization (code * scale), and
// codes computed by multiplying with inv_scale = 127/absmax, computed once per group: one multiply per
// element instead of a correctly rounded division (about ten instructions on the GPU). x * inv_scale can
// differ from x / scale in the last bit, which moves a code only at an exact rounding boundary.
// An all-zero group gets scale 1 and inv_scale 1, so codes stay 0 and dequantization is exact.
QFT_HD float absmax_scale(float absmax) { return absmax > 0.0f ? fdiv(absmax, 127.0f) : 1.0f; }
QFT_HD float absmax_inv_scale(float absmax) { return absmax > 0.0f ? fdiv(127.0f, absmax) : 1.0f; }

// Round-to-nearest-even code of x * inv_scale, clamped to +-127.
QFT_HD int quantize_nearest(float x, float inv_scale) { return round_even(clamp127f(fmul(x, inv_scale))); }

// Stochastic code of v = x * inv_scale: floor(v + u) with u = unit_float(bits), which is floor(v) + 1 with
// probability frac(v) (up to the fp32 rounding of v + u, below 2^-17 of a code), so E[code] = v. Clamped.
QFT_HD int quantize_stochastic(float x, float inv_scale, uint32_t bits) {
    return floor_int(clamp127f(fadd(fmul(x, inv_scale), unit_float(bits))));
}

// Round-to-nearest code that never turns a nonzero value into 0 (Lion reads only sign(m), so a small
// momentum must keep its sign; bitsandbytes nudges the code the same way).
QFT_HD int quantize_sign_kept(float x, float inv_scale) {
    const int q = quantize_nearest(x, inv_scale);
    return q == 0 && x != 0.0f ? (x > 0.0f ? 1 : -1) : q;
}

// Lion constants, computed once on the host so that both backends multiply by the same floats.
struct LionConsts {
    float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, decay;  // decay = 1 - lr*wd
};

inline LionConsts lion_consts(float lr, float beta1, float beta2, float weight_decay) {
    return LionConsts{lr, beta1, fadd(1.0f, -beta1), beta2, fadd(1.0f, -beta2), fadd(1.0f, -fmul(lr, weight_decay))};
}

// One Lion element (Chen et al. 2023, arXiv 2302.06675) with decoupled weight decay applied before
// the update: c = b1*m + (1-b1)*g; w = w*(1 - lr*wd) - lr*sign(c); m = b2*m + (1-b2)*g.
QFT_HD void lion_element(const LionConsts& k, float g, float* w, float* m) {
    float c = fadd(fmul(k.beta1, *m), fmul(k.one_minus_beta1, g));
    // -lr*sign(c) for lr >= 0 (LionConfig), and -0.0 (which leaves w*decay as it is) for c = +-0 or NaN: lr's bits
    // under the inverse of c's sign bit. Built from bits, not selected by a nested ternary, which nvcc compiled
    // into divergent branches costing about ten instructions per element of the CUDA step (SASS, session 7).
    const float step = (c > 0.0f) | (c < 0.0f) ? bits_float(float_bits(k.lr) | (~float_bits(c) & 0x80000000u)) : -0.0f;
    *w = fadd(fmul(*w, k.decay), step);
    *m = fadd(fmul(k.beta2, *m), fmul(k.one_minus_beta2, g));
}

// The fused-per-layer policy's rule for one tensor's gradient (train_step.h, qft_clip_factors), in the order
// backward hands tensors over. sum: the tensor's sum of squared gradients. state: {poisoned (0/1), tensors
// updated, tensors skipped, the largest norm updated (fp64 bits)}. Once a non-finite norm is met every later
// tensor of the step is skipped (the CPU trainer's FusedPerLayerPolicy). Returns the gradient's factor: NaN to
// skip it, else the clip factor clip_norm / norm above clip_norm (per_tensor), else 1; in fp64 then rounded
// once to fp32, as the host computes it, so both policies clip by the same bits.
QFT_HD float fused_clip_factor(double sum, double clip_norm, int32_t per_tensor, int64_t* state) {
#ifdef __CUDA_ARCH__
    const double norm = sqrt(sum);
    const bool ok = isfinite(norm);
#else
    const double norm = std::sqrt(sum);
    const bool ok = std::isfinite(norm);
#endif
    if (state[0] != 0 || !ok) {
        state[0] = 1;
        state[2] += 1;
        uint32_t nan_bits = 0x7fc00000u;
        float nan;
        memcpy(&nan, &nan_bits, 4);
        return nan;
    }
    state[1] += 1;
    double max_norm;
    memcpy(&max_norm, &state[3], 8);
    if (norm > max_norm) memcpy(&state[3], &norm, 8);
    return per_tensor && norm > clip_norm ? static_cast<float>(clip_norm / norm) : 1.0f;
}

}  // namespace qft
