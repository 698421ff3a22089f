// CUDA-on-CPU emulation for the qft4j kernel sources (tests/emu/README.md). Every CUDA thread of a block is a
// cooperative fiber on one OS thread; blocks run one after another. Kernels are the project's unmodified .cu
// files, compiled as C++ after tests/emu/transform.py rewrote their launches (<<< >>>), their inline PTX (asm)
// and their __shared__ declarations into calls of this header.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
// always_inline: shared headers (qft_math.h) compile their __CUDA_ARCH__ branches here and their host branches in the
// CPU library; inlining every call keeps the two inline definitions from being merged by the linker.
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __restrict__ __restrict
#define __noinline__ __attribute__((noinline))
#define __grid_constant__

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

namespace emu {

// ---- the scheduler (emu.cpp) ----
struct Thread;
Thread* cur();
const uint3& thread_idx();
extern uint3 block_idx;
extern dim3 block_dim, grid_dim;
void syncthreads();
void warp_sync();          // all live lanes of the calling warp meet (warp-synchronous ops)
int lane();
uint64_t* warp_slots();    // this warp's exchange slots for the current warp op: [32] per op (double-buffered)
int warp_live();           // live (not exited) lanes of the calling warp
void* dyn_smem();
void poison_shared(void* p, size_t bytes);  // fills a __shared__ variable with 0xff once per block
void* shared_ptr(unsigned addr);            // the host address of a 32-bit shared address (__cvta_generic_to_shared)
void* shared_ptr_n(unsigned addr, size_t n);  // the same, checking that all n bytes lie in the same shared array
unsigned shared_addr18(unsigned a18);       // the shared address whose low 18 bits are a18 (wgmma descriptors)
// ---- the scheduler's warpgroups and events, for the sm_90 PTX (emu_sm90.cpp) ----
void warpgroup_sync(void (*last)(int g));   // the 128 threads [128 g, 128 g + 128) meet; the last to arrive runs last(g)
int warpgroup_live();                       // live threads of the calling thread's warpgroup
int thread_linear();                        // the calling thread's linear index in its block
int thread_count();                         // threads per block
void wait_event(const void* key);           // blocks the calling thread until wake_event(key)
void wake_event(const void* key);
void sm90_block_begin();                    // a block starts: no wgmma, mbarrier or bulk copy state is left
void sm90_thread_exit();                    // the calling thread exits: reports its unfinished asynchronous work
bool sm90_ptx(const char* text);            // the operand-less sm_90 PTX; false if text is none of it
bool sm90_ptx(const char* text, int n);     // wait_group-like PTX with an immediate operand
void sm90_check_write(unsigned smem, unsigned bytes, const char* what);  // no pending wgmma may still read these bytes
void sm90_generic_write(int thread, unsigned smem, unsigned bytes);       // a cp.async landed: generic proxy, not yet fenced
std::mutex& lock();                         // serialises grids and the runtime's bookkeeping across OS threads
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int errors();              // emulation errors so far (divergence, deadlock, bad PTX operands, ...)
void reset_errors();
void quiet(bool q);        // count errors without printing them (the self-check's expected ones)

using Body = void (*)(void*);
void run_grid(const void* kernel, const char* name, dim3 grid, dim3 block, size_t smem, Body body, void* ctx);

struct Config {
    dim3 grid, block;
    size_t smem;
    Config(dim3 g, dim3 b, size_t s = 0, void* = nullptr) : grid(g), block(b), smem(s) {}
};

template <class... P>
struct Launcher {
    void (*kernel)(P...);
    const char* name;
    Config cfg;
    template <class... A>
    void operator()(A&&... args) const {
        std::tuple<P...> params(std::forward<A>(args)...);  // converted once, copied per thread as CUDA does
        struct Ctx {
            void (*k)(P...);
            std::tuple<P...>* params;
        } ctx{kernel, &params};
        run_grid(reinterpret_cast<const void*>(kernel), name, cfg.grid, cfg.block, cfg.smem, [](void* c) {
            Ctx* x = static_cast<Ctx*>(c);
            std::tuple<P...> mine = *x->params;
            std::apply(x->k, mine);
        }, &ctx);
    }
};
template <class... P>
Launcher<P...> launch(void (*k)(P...), const char* name, Config cfg) { return Launcher<P...>{k, name, cfg}; }

// ---- warp exchange ----
template <class T, class F>
T shfl(T v, F src_lane) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t* s = warp_slots();
    uint64_t b = 0;
    memcpy(&b, &v, sizeof(T));
    const int l = lane();
    s[l] = b;
    warp_sync();
    const int src = src_lane(l);
    T out;
    memcpy(&out, &s[src], sizeof(T));
    return out;
}
void check_mask(unsigned mask, const char* what);

}  // namespace emu

#define threadIdx (::emu::thread_idx())
#define blockIdx (::emu::block_idx)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)
#define warpSize 32

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::check_mask(mask, "__syncwarp"); emu::warp_sync(); }

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int m, int width = 32) {
    emu::check_mask(mask, "__shfl_xor_sync");
    return emu::shfl(v, [&](int l) { int s = l ^ m; return (s & ~(width - 1)) == (l & ~(width - 1)) ? s : l; });
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    emu::check_mask(mask, "__shfl_down_sync");
    return emu::shfl(v, [&](int l) { int s = l + (int)d; return (s & ~(width - 1)) == (l & ~(width - 1)) ? s : l; });
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) {
    emu::check_mask(mask, "__shfl_up_sync");
    return emu::shfl(v, [&](int l) { int s = l - (int)d; return s >= (l & ~(width - 1)) ? s : l; });
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    emu::check_mask(mask, "__shfl_sync");
    return emu::shfl(v, [&](int l) { return (l & ~(width - 1)) + (src & (width - 1)); });
}
unsigned __ballot_sync(unsigned mask, int pred);
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == mask; }
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }

// ---- atomics: fibers never interleave inside one, so plain read-modify-writes are atomic ----
template <class T, class U> T atomicAdd(T* p, U v) { T o = *p; *p = o + (T)v; return o; }
template <class T, class U> T atomicMax(T* p, U v) { T o = *p; if ((T)v > o) *p = (T)v; return o; }
template <class T, class U> T atomicMin(T* p, U v) { T o = *p; if ((T)v < o) *p = (T)v; return o; }
template <class T, class U> T atomicOr(T* p, U v) { T o = *p; *p = o | (T)v; return o; }
template <class T, class U> T atomicAnd(T* p, U v) { T o = *p; *p = o & (T)v; return o; }
template <class T, class U> T atomicExch(T* p, U v) { T o = *p; *p = (T)v; return o; }
template <class T, class U, class V> T atomicCAS(T* p, U cmp, V v) { T o = *p; if (o == (T)cmp) *p = (T)v; return o; }

// ---- intrinsics ----
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
inline long long __double_as_longlong(double d) { long long u; memcpy(&u, &d, 8); return u; }
inline double __longlong_as_double(long long u) { double d; memcpy(&d, &u, 8); return d; }
// Single IEEE-rounded operations that are never fused into an FMA, as nvcc guarantees for the _rn intrinsics: the
// empty asm hides the product from the compiler, so even an EMU_FMA=1 build (-ffp-contract=fast) cannot contract it.
inline float __fmul_rn(float a, float b) { float r = a * b; asm("" : "+x"(r)); return r; }
inline float __fadd_rn(float a, float b) { float r = a + b; asm("" : "+x"(r)); return r; }
inline float __fsub_rn(float a, float b) { float r = a - b; asm("" : "+x"(r)); return r; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dmul_rn(double a, double b) { double r = a * b; asm("" : "+x"(r)); return r; }
inline double __dadd_rn(double a, double b) { double r = a + b; asm("" : "+x"(r)); return r; }
int __float2int_rn(float f);  // to nearest even; NaN -> 0 and saturating, as cvt.rni.s32.f32
int __float2int_rd(float f);
int __float2int_rz(float f);
inline float __int2float_rn(int i) { return (float)i; }  // the default rounding mode: to nearest even
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
unsigned __byte_perm(unsigned x, unsigned y, unsigned s);
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) { unsigned r = 0; for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i); return r; }
template <class T> T __ldcs(const T* p) { return *p; }
template <class T> T __ldg(const T* p) { return *p; }
template <class T> void __stcs(T* p, T v) { *p = v; }
size_t __cvta_generic_to_shared(const void* p);
// CUDA's min/max overloads for mixed integer arguments take the common type, as here.
template <class T, class U> inline auto min(T a, U b) -> typename std::common_type<T, U>::type { return b < a ? b : a; }
template <class T, class U> inline auto max(T a, U b) -> typename std::common_type<T, U>::type { return a < b ? b : a; }
using std::isfinite;
using std::isnan;
using std::isinf;

// ---- PTX reached through inline asm (transform.py turns `asm("op ..." : outs : ins)` into emu_ptx(...)) ----
namespace emu {
void ptx(const char* text, float& d0, float& d1, float& d2, float& d3, unsigned a0, unsigned a1, unsigned a2, unsigned a3,
         unsigned b0, unsigned b1);                                   // mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
void ptx(const char* text, unsigned smem, const void* gmem, int src_bytes);  // cp.async.{ca,cg}.shared.global
void ptx(const char* text);                                           // cp.async.commit_group
void ptx(const char* text, int n);                                    // cp.async.wait_group n
void ptx(const char* text, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, unsigned smem);  // ldmatrix x4
void ptx(const char* text, int& d0, int& d1, int& d2, int& d3, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
         unsigned b1);                                                // mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 (emu_mma_int.cpp)
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (emu_mma_int.cpp): the operands have the .tf32 overload's types,
// so that overload hands this text over.
void mma_m16n8k16_bf16(float& d0, float& d1, float& d2, float& d3, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                       unsigned b1);
// The TMA and mbarrier PTX of int8_matmul_tma.cu (emu_sm90.cpp); shared addresses as 32-bit values, tensor maps by address.
void ptx(const char* text, unsigned bar, int n);       // mbarrier.init / mbarrier.arrive.expect_tx [bar], n
void ptx(const char* text, unsigned bar);              // mbarrier.arrive [bar]
void ptx(const char* text, unsigned bar, unsigned parity);  // mbarrier.try_wait.parity loop (returns once the phase completed)
void ptx(const char* text, unsigned smem, const void* map, int c0, int c1, unsigned bar);  // cp.async.bulk.tensor.2d global -> shared
void ptx(const char* text, const void* map, int c0, int c1, unsigned smem);                // cp.async.bulk.tensor.2d shared -> global
void ptx(const char* text, const void* map);           // prefetch.tensormap
// wgmma.mma_async.sync.aligned.m64nNk32.s32.s8.s8 (emu_sm90.cpp) with the operands of wgmma_s8.cuh: the N/2 accumulator
// registers, the A and B shared-memory matrix descriptors and the scale-d value (predicate p = value != 0).
void wgmma_mma_async(const char* text, int32_t* const* d, int nd, uint64_t desc_a, uint64_t desc_b, int scale_d);
template <class... A>
constexpr bool wgmma_operands() {
    constexpr size_t n = sizeof...(A) - 3;
    constexpr bool acc[] = {std::is_same<A, int32_t&>::value...};
    constexpr bool u64[] = {std::is_same<typename std::decay<A>::type, uint64_t>::value...};
    constexpr bool i32[] = {std::is_same<typename std::decay<A>::type, int>::value...};
    for (size_t i = 0; i < n; ++i)
        if (!acc[i]) return false;
    return u64[n] && u64[n + 1] && i32[n + 2];
}
// Only the 64 (N = 128) and 128 (N = 256) register forms: other operand counts keep their own overloads.
template <class... A, typename std::enable_if<sizeof...(A) == 67 || sizeof...(A) == 131, int>::type = 0>
void ptx(const char* text, A&&... a) {
    static_assert(wgmma_operands<A&&...>(), "wgmma operands: int32_t accumulators, two uint64_t descriptors, an int scale-d");
    constexpr size_t n = sizeof...(A) - 3;
    void* p[] = {const_cast<void*>(static_cast<const void*>(&a))...};
    int32_t* d[n];
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<int32_t*>(p[i]);
    wgmma_mma_async(text, d, (int)n, *static_cast<const uint64_t*>(p[n]), *static_cast<const uint64_t*>(p[n + 1]), *static_cast<const int*>(p[n + 2]));
}
}  // namespace emu
// A kernel reaching __trap (a branch the host code must never launch) is reported and the thread goes on.
inline void __trap() { emu::error("__trap"); }

// ---- runtime API ----
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorLaunchFailure = 719 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97, cudaDevAttrComputeCapabilityMajor = 75,
                      cudaDevAttrComputeCapabilityMinor = 76, cudaDevAttrMaxSharedMemoryPerBlock = 8 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8, cudaFuncAttributePreferredSharedMemoryCarveout = 9 };
typedef struct CUstream_st* cudaStream_t;
#define cudaStreamPerThread ((cudaStream_t)0x2)
cudaError_t cudaSetDevice(int);
cudaError_t cudaGetDevice(int*);
cudaError_t cudaMalloc(void** p, size_t n);
cudaError_t cudaFree(void* p);
template <class T> cudaError_t cudaMallocAsync(T** p, size_t n, cudaStream_t) { return cudaMalloc(reinterpret_cast<void**>(p), n); }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return cudaFree(p); }
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind);
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t = nullptr) { return cudaMemcpy(d, s, n, k); }
cudaError_t cudaMemset(void* d, int v, size_t n);
inline cudaError_t cudaMemcpy2DAsync(void* d, size_t dpitch, const void* s, size_t spitch, size_t width, size_t height, cudaMemcpyKind k,
                                     cudaStream_t = nullptr) {
    if (width > dpitch || width > spitch) return cudaErrorInvalidValue;
    for (size_t r = 0; r < height; ++r) cudaMemcpy(static_cast<char*>(d) + r * dpitch, static_cast<const char*>(s) + r * spitch, width, k);
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) { return cudaMemset(d, v, n); }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t);
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int device);
template <class F> cudaError_t cudaFuncSetAttribute(F f, cudaFuncAttribute a, int v) {
    extern cudaError_t emu_func_set_attribute(const void*, int, int);
    return emu_func_set_attribute(reinterpret_cast<const void*>(f), (int)a, v);
}
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b);
