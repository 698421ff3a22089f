// Element-wise arithmetic shared by the CPU references and the CUDA kernels of QFT (hybrid weights,
// INT8 gradient/momentum blocks, the fused Lion step). One definition compiled by both compilers is
// what makes CPU and CUDA results bit-identical: every float op is a single IEEE-rounded op (on the
// device through __fmul_rn/__fadd_rn, which nvcc never contracts into an FMA; the CPU library is
// baseline x86-64, which has no FMA to contract into), and the RNG is integer-only.
#pragma once

#include <cstdint>

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

QFT_HD float ffloor(float x) {
#ifdef __CUDA_ARCH__
    return floorf(x);
#else
    return std::floor(x);
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

QFT_HD int clamp127(int v) { return v > 127 ? 127 : (v < -127 ? -127 : v); }

// splitmix64's finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix with full avalanche.
QFT_HD uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Counter-based RNG: the random bits of element `index` of tensor `tensor` at optimizer step `step`
// under `seed`, with no state. A resumed run that restores (seed, step) replays the same stream.
QFT_HD uint64_t rng_stream(uint64_t seed, uint64_t step, uint64_t tensor) {
    return mix64(mix64(mix64(seed) ^ step) ^ (tensor * 0xd1b54a32d192ed03ULL));
}
QFT_HD uint64_t rng_bits(uint64_t stream, uint64_t index) { return mix64(stream ^ (index * 0x9e3779b97f4a7c15ULL)); }

// The rounding bits of element `index` are rng_bits(rounding_stream(...), index) + rounding_offset(...).
// Independent draws (weyl false): a fresh stream every step. Low-discrepancy draws (weyl true,
// QFT_ROUND_STOCHASTIC_WEYL): the element starts at a random point fixed by (seed, tensor) and advances by
// the golden-ratio Weyl increment 2^64/phi every step, so its uniforms over consecutive steps are spread
// evenly over [0, 1) while each one alone is still uniform (unbiased). A weight nudged the same way by a
// fraction of a code for many steps then moves by the sum of the nudges to within about one code, instead
// of a random walk with sqrt(steps) spread (the time-domain analogue of error diffusion, with no memory).
QFT_HD uint64_t rounding_stream(uint64_t seed, uint64_t step, uint64_t tensor, bool weyl) {
    return weyl ? rng_stream(seed, ~0ULL, tensor) : rng_stream(seed, step, tensor);
}
QFT_HD uint64_t rounding_offset(uint64_t step, bool weyl) { return weyl ? step * 0x9e3779b97f4a7c15ULL : 0; }

// INT8 code of x/scale. Stochastic rounding (bits != nullptr semantics via `stochastic`):
// floor(v) + 1 with probability frac(v), using the top 24 bits of `bits` as u in [0, 1), so
// E[code] = v (up to the fp32 rounding of frac); round-to-nearest-even otherwise. Clamped to ±127.
QFT_HD int quantize_code(float x, float scale, bool stochastic, uint64_t bits) {
    float v = fdiv(x, scale);
    if (!stochastic) return clamp127(round_even(v));
    float fl = ffloor(v);
    float frac = fadd(v, -fl);
    float u = static_cast<float>(static_cast<uint32_t>(bits >> 40)) * (1.0f / 16777216.0f);
    int q = static_cast<int>(fl) + (u < frac ? 1 : 0);
    return clamp127(q);
}

// Round-to-nearest code that never turns a nonzero value into 0 (Lion reads only sign(m), so a small
// momentum must keep its sign; bitsandbytes nudges the code the same way).
QFT_HD int quantize_code_sign_kept(float x, float scale) {
    int q = clamp127(round_even(fdiv(x, scale)));
    if (q == 0 && x != 0.0f) q = x > 0.0f ? 1 : -1;
    return q;
}

// absmax/127, or 1 for an all-zero group so that codes stay 0 and dequantization is exact.
QFT_HD float absmax_scale(float absmax) { return absmax > 0.0f ? fdiv(absmax, 127.0f) : 1.0f; }

QFT_HD float sign_f(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }

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
    *w = fadd(fmul(*w, k.decay), -fmul(k.lr, sign_f(c)));
    *m = fadd(fmul(k.beta2, *m), fmul(k.one_minus_beta2, g));
}

}  // namespace qft
