// INT8 matmul on the CPU: the plain reference (int8_matmul_ref), the fast kernels (AVX2 and AVX-512
// VNNI, cache-blocked, multithreaded) and the device/kernel dispatch. Semantics, chunking of K and the
// epilogue order are specified in qft4j/int8_matmul.h; the CUDA twin is native/cuda/int8_matmul.cu.
//
// Fast path, GotoBLAS-style (Goto & van de Geijn, "Anatomy of high-performance matrix multiplication",
// 2008): per K chunk, A and B are packed once (K padded to the kernel's k-group, rows padded to the
// micro-tile), then threads take (MC x NC) tiles of C; inside a tile the loop runs over KC-blocks, then
// NR-wide B micro-panels (held in L1), then MR-high A micro-panels, each an MR x NR register micro-kernel.
//  - VNNI: vpdpbusd multiplies unsigned by signed bytes. A is packed as a + 128 (a ^ 0x80), so the
//    kernel computes sum (a+128) b = sum a b + 128 sum b, and the column sums of B are subtracted
//    afterwards. The int32 lanes wrap mod 2^32, and the true result fits in int32, so it is exact.
//  - AVX2: bytes are sign-extended to int16 when packing; vpmaddwd sums two int16 products into
//    int32 exactly (|2 * 128 * 128| = 32768 < 2^31), then vpaddd accumulates.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "../common/internal.h"
#include "parallel.h"
#include "qft4j/int8_matmul.h"

namespace qft {

static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// K ranges that are each summed exactly in int32 (see the header).
static std::vector<std::pair<int64_t, int64_t>> k_chunks(int64_t K) {
    std::vector<std::pair<int64_t, int64_t>> c;
    if (K <= QFT_INT8_MATMUL_MAX_EXACT_K) {
        c.emplace_back(0, K);
        return c;
    }
    for (int64_t k0 = 0; k0 < K; k0 += QFT_INT8_MATMUL_K_CHUNK) c.emplace_back(k0, std::min(K, k0 + QFT_INT8_MATMUL_K_CHUNK));
    return c;
}

static inline uint16_t bf16_rne(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN stays a (quiet) NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

static inline float bf16_to_float(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &u, 4);
    return v;
}

// The scaled epilogue of the header, for one element whose chunk sums are already added into s.
struct Epilogue {
    const float* row_scale;  // (M) or null
    const float* col_scale;  // (N) or null
    const float* bias;       // (N) or null
    void* y;                 // (M,N) fp32 or bf16
    int32_t out_dtype;
    bool accumulate;
    int64_t N;

    void store(int64_t m, int64_t n, float s) const {
        float v = s * (row_scale ? row_scale[m] : 1.0f);
        v = v * (col_scale ? col_scale[n] : 1.0f);
        if (bias) v = v + bias[n];
        int64_t i = m * N + n;
        if (out_dtype == QFT_OUT_F32) {
            float* yf = static_cast<float*>(y);
            yf[i] = accumulate ? yf[i] + v : v;
        } else {
            uint16_t* yh = static_cast<uint16_t*>(y);
            yh[i] = bf16_rne(accumulate ? bf16_to_float(yh[i]) + v : v);
        }
    }
};

// The reference, rows [m0, m1): C[m,n] = sum_k A[m,k] B[n,k] in int32. K <= MAX_EXACT_K.
void int8_matmul_ref_i32(const int8_t* A, const int8_t* B, int32_t* C, int64_t m0, int64_t m1, int64_t N, int64_t K) {
    for (int64_t m = m0; m < m1; ++m)
        for (int64_t n = 0; n < N; ++n) {
            int32_t acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += int32_t(A[m * K + k]) * int32_t(B[n * K + k]);
            C[m * N + n] = acc;
        }
}

// The reference, rows [m0, m1), scaled output: chunks summed exactly in int32, added in fp32.
void int8_matmul_ref(const int8_t* A, const int8_t* B, const Epilogue& ep, int64_t m0, int64_t m1, int64_t N, int64_t K) {
    auto chunks = k_chunks(K);
    for (int64_t m = m0; m < m1; ++m)
        for (int64_t n = 0; n < N; ++n) {
            float s = 0.0f;
            for (size_t c = 0; c < chunks.size(); ++c) {
                int32_t acc = 0;
                for (int64_t k = chunks[c].first; k < chunks[c].second; ++k) acc += int32_t(A[m * K + k]) * int32_t(B[n * K + k]);
                s = c == 0 ? float(acc) : s + float(acc);
            }
            ep.store(m, n, s);
        }
}

namespace {

// ---- micro-kernels ------------------------------------------------------------------------------
// Packed A: rows of kp elements (k padded to KG); packed B: NR-column panels, each kp/KG groups of
// NR x KG elements (group g, column j, lane t at g*NR*KG + j*KG + t), so one KC-block of a panel starts
// at kb*NR. ukernel: C (MR x NR, ld ldc) = (first ? 0 : C) + A-panel . B-panel over kc elements.

struct VnniKernel {
    static constexpr int MR = 8, NR = 32, KG = 4;
    static constexpr bool kUnsignedA = true;  // A packed as a + 128, corrected by 128 * colsum(B)
    using AT = uint8_t;
    using BT = int8_t;
    static constexpr const char* kName = "cpu-vnni-8x32";
    static AT pack_a(int8_t v) { return static_cast<uint8_t>(v) ^ 0x80u; }
    static BT pack_b(int8_t v) { return v; }

    __attribute__((target("avx512f,avx512bw,avx512vnni"))) static void ukernel(const AT* a, int64_t lda, const BT* b,
                                                                                 int64_t kc, int32_t* c, int64_t ldc, bool first) {
        __m512i acc[MR][2];
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = first ? _mm512_setzero_si512() : _mm512_loadu_si512(c + r * ldc);
            acc[r][1] = first ? _mm512_setzero_si512() : _mm512_loadu_si512(c + r * ldc + 16);
        }
        for (int64_t g = 0; g < kc / KG; ++g) {
            __m512i b0 = _mm512_loadu_si512(b + g * NR * KG), b1 = _mm512_loadu_si512(b + g * NR * KG + 64);
#pragma GCC unroll 8
            for (int r = 0; r < MR; ++r) {
                int32_t a4;
                std::memcpy(&a4, a + r * lda + g * KG, 4);
                __m512i av = _mm512_set1_epi32(a4);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            _mm512_storeu_si512(c + r * ldc, acc[r][0]);
            _mm512_storeu_si512(c + r * ldc + 16, acc[r][1]);
        }
    }
};

struct Avx2Kernel {
    static constexpr int MR = 6, NR = 16, KG = 2;
    static constexpr bool kUnsignedA = false;
    using AT = int16_t;
    using BT = int16_t;
    static constexpr const char* kName = "cpu-avx2-6x16";
    static AT pack_a(int8_t v) { return v; }
    static BT pack_b(int8_t v) { return v; }

    __attribute__((target("avx2"))) static void ukernel(const AT* a, int64_t lda, const BT* b, int64_t kc, int32_t* c,
                                                        int64_t ldc, bool first) {
        __m256i acc[MR][2];
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = first ? _mm256_setzero_si256() : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + r * ldc));
            acc[r][1] = first ? _mm256_setzero_si256() : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + r * ldc + 8));
        }
        for (int64_t p = 0; p < kc / KG; ++p) {
            __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + p * NR * KG));
            __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + p * NR * KG + 16));
#pragma GCC unroll 6
            for (int r = 0; r < MR; ++r) {
                int32_t a2;
                std::memcpy(&a2, a + r * lda + p * KG, 4);
                __m256i av = _mm256_set1_epi32(a2);
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
            }
        }
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), acc[r][0]);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc + 8), acc[r][1]);
        }
    }
};

// Tile sizes: a KC x NR B micro-panel (VNNI 32 KiB, AVX2 64 KiB of int16) stays in L1/L2 while the MR-row
// A micro-panels of an MC x KC block (L2) stream past it.
constexpr int64_t kMC = 96, kNC = 256, kKC = 1024;

// Called once per (chunk, tile) with the exact int32 sums of that chunk for rows [m0,m1) x cols [n0,n1).
using TileSink = std::function<void(size_t chunk, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const int32_t* c, int64_t ldc)>;

template <class Kn>
void gemm_fast(const int8_t* A, const int8_t* B, int64_t M, int64_t N, int64_t K, const TileSink& sink) {
    using AT = typename Kn::AT;
    using BT = typename Kn::BT;
    const int64_t Mp = round_up(M, Kn::MR), Np = round_up(N, Kn::NR);
    auto chunks = k_chunks(K);
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
        const int64_t k0 = chunks[ci].first, kc = chunks[ci].second - k0, kp = round_up(kc, Kn::KG);
        // Padding: B's padded k and columns are 0, so whatever sits in A's padding multiplies by zero.
        std::vector<AT> pa(static_cast<size_t>(Mp * kp), Kn::pack_a(0));
        std::vector<BT> pb(static_cast<size_t>(Np * kp), BT(0));
        std::vector<int32_t> colsum(static_cast<size_t>(Np), 0);
        parallel_for(M, 64, [&](int64_t r0, int64_t r1) {
            for (int64_t m = r0; m < r1; ++m)
                for (int64_t k = 0; k < kc; ++k) pa[m * kp + k] = Kn::pack_a(A[m * K + k0 + k]);
        });
        parallel_for(Np / Kn::NR, 4, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                BT* panel = pb.data() + p * kp * Kn::NR;
                for (int64_t j = 0; j < Kn::NR && p * Kn::NR + j < N; ++j) {
                    const int8_t* brow = B + (p * Kn::NR + j) * K + k0;
                    int32_t s = 0;
                    for (int64_t k = 0; k < kc; ++k) {
                        panel[(k / Kn::KG) * Kn::NR * Kn::KG + j * Kn::KG + k % Kn::KG] = Kn::pack_b(brow[k]);
                        s += brow[k];
                    }
                    colsum[p * Kn::NR + j] = s;
                }
            }
        });
        const int64_t tiles_m = (Mp + kMC - 1) / kMC, tiles_n = (Np + kNC - 1) / kNC;
        parallel_for(tiles_m * tiles_n, 1, [&](int64_t t0, int64_t t1) {
            std::vector<int32_t> ct(static_cast<size_t>(kMC * kNC));
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t tm = t / tiles_n, tn = t % tiles_n;
                const int64_t m0 = tm * kMC, mb = std::min(kMC, Mp - m0), n0 = tn * kNC, nb = std::min(kNC, Np - n0);
                if (kp == 0) std::fill(ct.begin(), ct.end(), 0);  // K = 0: the empty sum
                for (int64_t kb = 0; kb < kp; kb += kKC) {
                    const int64_t kcb = std::min(kKC, kp - kb);
                    for (int64_t jn = 0; jn < nb; jn += Kn::NR) {
                        const BT* bpan = pb.data() + (n0 + jn) * kp + kb * Kn::NR;
                        for (int64_t im = 0; im < mb; im += Kn::MR)
                            Kn::ukernel(pa.data() + (m0 + im) * kp + kb, kp, bpan, kcb, ct.data() + im * kNC + jn, kNC, kb == 0);
                    }
                }
                const int64_t m1 = std::min(M, m0 + mb), n1 = std::min(N, n0 + nb);
                if (Kn::kUnsignedA)
                    for (int64_t m = m0; m < m1; ++m)
                        for (int64_t n = n0; n < n1; ++n) {
                            // Wrapping (mod 2^32) subtraction: the exact result fits in int32.
                            uint32_t v = uint32_t(ct[(m - m0) * kNC + n - n0]) - 128u * uint32_t(colsum[n]);
                            ct[(m - m0) * kNC + n - n0] = int32_t(v);
                        }
                if (m1 > m0 && n1 > n0) sink(ci, m0, m1, n0, n1, ct.data(), kNC);
            }
        });
    }
}

// ---- dispatch -----------------------------------------------------------------------------------

thread_local const char* g_last_kernel = "";

bool cpu_has(int32_t kernel) {
    int32_t f = qft_cpu_features();
    switch (kernel) {
        case QFT_MM_CPU_REF: return true;
        case QFT_MM_CPU_AVX2: return (f & QFT_CPU_AVX2) != 0;
        case QFT_MM_CPU_VNNI: return (f & QFT_CPU_AVX512F) && (f & QFT_CPU_AVX512BW) && (f & QFT_CPU_AVX512VNNI);
        default: return false;
    }
}

int32_t cpu_auto() {
    if (cpu_has(QFT_MM_CPU_VNNI)) return QFT_MM_CPU_VNNI;
    if (cpu_has(QFT_MM_CPU_AVX2)) return QFT_MM_CPU_AVX2;
    return QFT_MM_CPU_REF;
}

void run_cpu(int32_t kernel, const int8_t* A, const int8_t* B, int64_t M, int64_t N, int64_t K, const TileSink& sink) {
    if (kernel == QFT_MM_CPU_VNNI) {
        gemm_fast<VnniKernel>(A, B, M, N, K, sink);
        g_last_kernel = VnniKernel::kName;
    } else {
        gemm_fast<Avx2Kernel>(A, B, M, N, K, sink);
        g_last_kernel = Avx2Kernel::kName;
    }
}

int check_args(const char* fn, int32_t device, int32_t kernel, int64_t a, int64_t b, int64_t y, int64_t M, int64_t N, int64_t K) {
    if (a == 0 || b == 0 || y == 0 || M < 0 || N < 0 || K < 0)
        return qft_set_error(QFT_EINVAL, "%s: bad arguments: A (%lld, %lld), B (%lld, %lld), Y (%lld, %lld) (null pointer or negative size?)",
                             fn, (long long)M, (long long)K, (long long)N, (long long)K, (long long)M, (long long)N);
    bool cpu_kernel = kernel == QFT_MM_CPU_REF || kernel == QFT_MM_CPU_AVX2 || kernel == QFT_MM_CPU_VNNI;
    bool cuda_kernel = kernel == QFT_MM_CUDA_MMA || kernel == QFT_MM_CUDA_WGMMA || kernel == QFT_MM_CUDA_TMA;
    if (kernel != QFT_MM_AUTO && !cpu_kernel && !cuda_kernel) return qft_set_error(QFT_EINVAL, "%s: unknown kernel %d", fn, kernel);
    if (device == QFT_DEVICE_CPU && cuda_kernel)
        return qft_set_error(QFT_EINVAL, "%s: kernel %d is a CUDA kernel but the tensors are on the CPU", fn, kernel);
    if (device != QFT_DEVICE_CPU && cpu_kernel)
        return qft_set_error(QFT_EINVAL, "%s: kernel %d is a CPU kernel but the tensors are on cuda:%d", fn, kernel, device);
    if (device == QFT_DEVICE_CPU && kernel != QFT_MM_AUTO && !cpu_has(kernel))
        return qft_set_error(QFT_EUNSUPPORTED, "%s: CPU kernel %d needs instructions this CPU lacks (features 0x%x)", fn, kernel,
                             qft_cpu_features());
    return QFT_OK;
}

}  // namespace
}  // namespace qft

extern "C" int qft_int8_matmul_i32(int32_t device, int32_t kernel, int64_t a, int64_t b, int64_t c, int64_t M, int64_t N, int64_t K) {
    const char* fn = "qft_int8_matmul_i32";
    if (int st = qft::check_args(fn, device, kernel, a, b, c, M, N, K)) return st;
    if (K > QFT_INT8_MATMUL_MAX_EXACT_K)
        return qft_set_error(QFT_EINVAL, "%s: K = %lld exceeds %d, where an int32 sum of int8 products can overflow "
                             "(A (%lld, %lld), B (%lld, %lld)); use qft_int8_matmul, which splits K", fn, (long long)K,
                             QFT_INT8_MATMUL_MAX_EXACT_K, (long long)M, (long long)K, (long long)N, (long long)K);
    if (device != QFT_DEVICE_CPU) {
        const char* name = "";
        int st = qft::cuda_call("qft_cuda_int8_matmul", device, kernel, a, int64_t(0), b, int64_t(0), int64_t(0), c,
                                int32_t(QFT_OUT_F32), int32_t(0), M, N, K, int32_t(1), &name);
        if (st == QFT_OK) qft::g_last_kernel = name;
        return st;
    }
    return qft::guarded(fn, [&] {
        const int8_t* A = qft::ptr<const int8_t>(a);
        const int8_t* B = qft::ptr<const int8_t>(b);
        int32_t* C = qft::ptr<int32_t>(c);
        int32_t k = kernel == QFT_MM_AUTO ? qft::cpu_auto() : kernel;
        if (k == QFT_MM_CPU_REF) {
            qft::parallel_for(M, 16, [&](int64_t m0, int64_t m1) { qft::int8_matmul_ref_i32(A, B, C, m0, m1, N, K); });
            qft::g_last_kernel = "cpu-ref";
            return QFT_OK;
        }
        qft::run_cpu(k, A, B, M, N, K, [&](size_t, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const int32_t* t, int64_t ldt) {
            for (int64_t m = m0; m < m1; ++m) std::memcpy(C + m * N + n0, t + (m - m0) * ldt, (n1 - n0) * sizeof(int32_t));
        });
        return QFT_OK;
    });
}

extern "C" int qft_int8_matmul(int32_t device, int32_t kernel, int64_t a, int64_t row_scale, int64_t b, int64_t col_scale, int64_t bias,
                               int64_t y, int32_t out_dtype, int32_t accumulate, int64_t M, int64_t N, int64_t K) {
    const char* fn = "qft_int8_matmul";
    if (int st = qft::check_args(fn, device, kernel, a, b, y, M, N, K)) return st;
    if (out_dtype != QFT_OUT_F32 && out_dtype != QFT_OUT_BF16) return qft_set_error(QFT_EINVAL, "%s: unknown out_dtype %d", fn, out_dtype);
    if (device != QFT_DEVICE_CPU) {
        const char* name = "";
        int st = qft::cuda_call("qft_cuda_int8_matmul", device, kernel, a, row_scale, b, col_scale, bias, y, out_dtype, accumulate, M,
                                N, K, int32_t(0), &name);
        if (st == QFT_OK) qft::g_last_kernel = name;
        return st;
    }
    return qft::guarded(fn, [&] {
        const int8_t* A = qft::ptr<const int8_t>(a);
        const int8_t* B = qft::ptr<const int8_t>(b);
        qft::Epilogue ep{qft::ptr<const float>(row_scale), qft::ptr<const float>(col_scale), qft::ptr<const float>(bias),
                         qft::ptr<void>(y), out_dtype, accumulate != 0, N};
        int32_t k = kernel == QFT_MM_AUTO ? qft::cpu_auto() : kernel;
        if (k == QFT_MM_CPU_REF) {
            qft::parallel_for(M, 16, [&](int64_t m0, int64_t m1) { qft::int8_matmul_ref(A, B, ep, m0, m1, N, K); });
            qft::g_last_kernel = "cpu-ref";
            return QFT_OK;
        }
        if (K == 0) {
            for (int64_t m = 0; m < M; ++m)
                for (int64_t n = 0; n < N; ++n) ep.store(m, n, 0.0f);
            qft::g_last_kernel = k == QFT_MM_CPU_VNNI ? qft::VnniKernel::kName : qft::Avx2Kernel::kName;
            return QFT_OK;
        }
        const size_t nchunks = qft::k_chunks(K).size();
        // Chunk partial sums (fp32, in k order) live in a workspace until the last chunk's epilogue.
        std::vector<float> partial(nchunks > 1 ? static_cast<size_t>(M * N) : 0);
        qft::run_cpu(k, A, B, M, N, K, [&](size_t ci, int64_t m0, int64_t m1, int64_t n0, int64_t n1, const int32_t* t, int64_t ldt) {
            for (int64_t m = m0; m < m1; ++m)
                for (int64_t n = n0; n < n1; ++n) {
                    float s = float(t[(m - m0) * ldt + n - n0]);
                    if (ci > 0) s = partial[m * N + n] + s;
                    if (ci + 1 < nchunks) partial[m * N + n] = s;
                    else ep.store(m, n, s);
                }
        });
        return QFT_OK;
    });
}

extern "C" const char* qft_int8_matmul_last_kernel(void) { return qft::g_last_kernel; }

extern "C" int32_t qft_int8_matmul_has_kernel(int32_t device, int32_t kernel) {
    if (device == QFT_DEVICE_CPU) return kernel == QFT_MM_AUTO || qft::cpu_has(kernel);
    if (kernel != QFT_MM_AUTO && kernel != QFT_MM_CUDA_MMA && kernel != QFT_MM_CUDA_WGMMA && kernel != QFT_MM_CUDA_TMA) return 0;
    void* sym = qft_cuda_symbol("qft_cuda_int8_matmul_has_kernel");
    if (sym == nullptr) {
        qft_clear_error();
        return 0;
    }
    return reinterpret_cast<int32_t (*)(int32_t, int32_t)>(sym)(device, kernel);
}
