// A CUDA-on-CPU emulator for qft4j's kernels (tests/emu/README.md): enough of the CUDA runtime, the device
// intrinsics and the execution model to run a kernel's own source, compiled by g++, and compare its results with
// the CPU references where no GPU is at hand. Force-included (-include) before every translated .cu file.
//
// Execution model: the blocks of a grid run one after another; the threads of a block are cooperative fibers
// in one OS thread, switched only at barriers, so runs are deterministic. __syncthreads waits for every
// live thread of the block (an exited thread counts as arrived); warp-synchronous operations (shuffles, mma.sync)
// wait for every live lane of the warp. A barrier no thread can pass (divergence) aborts with the kernel's name.
// Function-static __shared__ variables are shared by the block's fibers; the dynamic shared buffer is filled with
// NaN bytes before every block, so that reading what no thread wrote shows. Limits checked at launch as the H100
// would: at most 1024 threads, 48 KB of dynamic shared memory unless cudaFuncSetAttribute raised it, 227 KB at most.
// Not modelled: timing, the memory model between barriers (cp.async copies at once), bank conflicts.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <csetjmp>
#include <ucontext.h>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
using uint3 = dim3;
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct int4 { int x, y, z, w; };
struct uint4 { unsigned x, y, z, w; };
struct int2 { int x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

namespace emu {

enum class State { Runnable, BlockBarrier, WarpBarrier, Done };
constexpr size_t kStackBytes = 256 * 1024;

struct Thread {
    dim3 idx;
    int linear = 0;
    State state = State::Runnable;
};

// A fiber per thread slot, made once per process and reused by every block of every launch: makecontext starts
// it, and _setjmp/_longjmp switch (swapcontext would make two signal-mask system calls per switch).
struct Fiber {
    std::vector<char> stack;
    ucontext_t start;
    jmp_buf at;
    bool started = false;
};

inline std::vector<Fiber>& fibers() {
    static std::vector<Fiber> f(1024);
    return f;
}

struct Block {
    dim3 grid, block, idx;
    std::vector<Thread> threads;
    jmp_buf scheduler;
    int current = -1;
    std::vector<unsigned char> smem;
    std::vector<uint64_t> exchange;  // one warp-synchronous operation's values, (threads, 16) words
    std::function<void()> body;
    const char* name = "";
};

inline Block*& block() {
    static Block* b = nullptr;
    return b;
}
inline Thread& self() { return block()->threads[block()->current]; }

[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "emu: kernel %s, block (%u,%u,%u): %s\n", block()->name, block()->idx.x, block()->idx.y, block()->idx.z, what);
    std::exit(3);
}

inline void yield() {
    if (!_setjmp(fibers()[block()->current].at)) _longjmp(block()->scheduler, 1);
}

// Waits at a barrier: back to the scheduler, which resumes the thread once every live thread it waits for arrived.
inline void wait(State s) {
    self().state = s;
    yield();
}

// A fiber's life: run the kernel for whichever block and thread the scheduler resumed it as, then wait to be reused.
inline void entry() {
    for (;;) {
        block()->body();
        self().state = State::Done;
        yield();
    }
}

inline void resume(Block& b, int i) {
    b.current = i;
    if (_setjmp(b.scheduler)) return;
    Fiber& f = fibers()[i];
    if (f.started) _longjmp(f.at, 1);
    f.started = true;
    f.stack.resize(kStackBytes);
    getcontext(&f.start);
    f.start.uc_stack.ss_sp = f.stack.data();
    f.start.uc_stack.ss_size = f.stack.size();
    f.start.uc_link = nullptr;
    makecontext(&f.start, entry, 0);
    ucontext_t here;
    swapcontext(&here, &f.start);
}

// Releases the barriers every live waiter has reached; false when nothing could move (a deadlock).
inline bool release(Block& b) {
    bool moved = false;
    const int n = static_cast<int>(b.threads.size());
    bool all = true, any = false;
    for (auto& t : b.threads) {
        if (t.state == State::Done) continue;
        any = true;
        if (t.state != State::BlockBarrier) all = false;
    }
    if (any && all) {
        for (auto& t : b.threads)
            if (t.state == State::BlockBarrier) t.state = State::Runnable;
        return true;
    }
    for (int w0 = 0; w0 < n; w0 += 32) {
        bool wall = true, wany = false;
        for (int i = w0; i < std::min(n, w0 + 32); ++i) {
            if (b.threads[i].state == State::Done) continue;
            wany = true;
            if (b.threads[i].state != State::WarpBarrier) wall = false;
        }
        if (wany && wall) {
            for (int i = w0; i < std::min(n, w0 + 32); ++i)
                if (b.threads[i].state == State::WarpBarrier) b.threads[i].state = State::Runnable;
            moved = true;
        }
    }
    return moved;
}

struct Launch {
    dim3 grid, block;
    size_t smem = 0;
};

inline std::map<const void*, int>& max_dynamic_smem() {
    static std::map<const void*, int> m;
    return m;
}

inline int& last_error() {
    static int e = 0;
    return e;
}

template <typename F, typename... Args>
void launch(const char* name, F* kernel, Launch cfg, Args... args) {
    const unsigned threads = cfg.block.x * cfg.block.y * cfg.block.z;
    auto it = max_dynamic_smem().find(reinterpret_cast<const void*>(kernel));
    const size_t smem_cap = it == max_dynamic_smem().end() ? 48 * 1024 : static_cast<size_t>(it->second);
    if (threads == 0 || threads > 1024 || cfg.smem > smem_cap || cfg.smem > 232448 || cfg.grid.y > 65535 || cfg.grid.z > 65535 ||
        cfg.grid.x == 0) {
        std::fprintf(stderr, "emu: launch of %s refused: grid (%u,%u,%u), block %u threads, %zu bytes of dynamic shared memory (cap %zu)\n",
                     name, cfg.grid.x, cfg.grid.y, cfg.grid.z, threads, cfg.smem, smem_cap);
        last_error() = 1;
        return;
    }
    Block b;
    b.grid = cfg.grid;
    b.block = cfg.block;
    b.name = name;
    b.threads.resize(threads);
    b.exchange.assign(static_cast<size_t>(threads) * 16, 0);
    b.body = [&] { kernel(args...); };
    Block* outer = block();
    block() = &b;
    for (unsigned bz = 0; bz < cfg.grid.z; ++bz)
        for (unsigned by = 0; by < cfg.grid.y; ++by)
            for (unsigned bx = 0; bx < cfg.grid.x; ++bx) {
                b.idx = dim3(bx, by, bz);
                b.smem.assign(cfg.smem + 16, 0xff);  // NaN bytes: reads of what no thread wrote show
                for (unsigned i = 0; i < threads; ++i) {
                    Thread& t = b.threads[i];
                    t.linear = static_cast<int>(i);
                    t.idx = dim3(i % cfg.block.x, (i / cfg.block.x) % cfg.block.y, i / (cfg.block.x * cfg.block.y));
                    t.state = State::Runnable;
                }
                for (;;) {
                    bool ran = false, live = false;
                    for (unsigned i = 0; i < threads; ++i) {
                        if (b.threads[i].state == State::Done) continue;
                        live = true;
                        if (b.threads[i].state != State::Runnable) continue;
                        resume(b, static_cast<int>(i));
                        ran = true;
                    }
                    if (!live) break;
                    if (!release(b) && !ran) fail("deadlock: threads wait at barriers that the others never reach");
                }
            }
    block() = outer;
}

// Warp-synchronous exchange: every live lane publishes `words` 64-bit words, then reads any lane's.
inline uint64_t* slot(int thread) { return &block()->exchange[static_cast<size_t>(thread) * 16]; }
inline int lane() { return self().linear % 32; }
inline int warp0() { return self().linear - lane(); }
inline void warp_sync() { wait(State::WarpBarrier); }

template <typename T>
T shfl(T v, int src_lane) {
    static_assert(sizeof(T) <= 8, "shuffle of a value up to 8 bytes");
    uint64_t w = 0;
    std::memcpy(&w, &v, sizeof(T));
    slot(self().linear)[0] = w;
    warp_sync();
    const int src = warp0() + (src_lane & 31);
    if (src >= static_cast<int>(block()->threads.size()) || block()->threads[src].state == State::Done)
        fail("shuffle from a lane that has exited");
    T out;
    std::memcpy(&out, &slot(src)[0], sizeof(T));
    warp_sync();  // nobody overwrites a slot before every lane has read it
    return out;
}

// The ballot of pred over the warp's live lanes (bit i: lane i).
inline unsigned ballot(int pred) {
    slot(self().linear)[1] = pred != 0;
    warp_sync();
    unsigned bits = 0;
    const int w0 = warp0(), n = static_cast<int>(block()->threads.size());
    for (int i = 0; i < 32 && w0 + i < n; ++i)
        if (block()->threads[w0 + i].state != State::Done && slot(w0 + i)[1]) bits |= 1u << i;
    warp_sync();
    return bits;
}

inline unsigned live_lanes() {
    unsigned bits = 0;
    const int w0 = warp0(), n = static_cast<int>(block()->threads.size());
    for (int i = 0; i < 32 && w0 + i < n; ++i)
        if (block()->threads[w0 + i].state != State::Done) bits |= 1u << i;
    return bits;
}

inline unsigned char* dynamic_smem() { return block()->smem.data(); }

}  // namespace emu

#define threadIdx (emu::self().idx)
#define blockIdx (emu::block()->idx)
#define blockDim (emu::block()->block)
#define gridDim (emu::block()->grid)

inline void __syncthreads() { emu::wait(emu::State::BlockBarrier); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_sync(); }
template <typename T>
T __shfl_sync(unsigned, T v, int src) { return emu::shfl(v, src); }
template <typename T>
T __shfl_xor_sync(unsigned, T v, int m) { return emu::shfl(v, emu::lane() ^ m); }
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned d) {
    const int src = emu::lane() + static_cast<int>(d);
    const T got = emu::shfl(v, src < 32 ? src : emu::lane());
    return src < 32 ? got : v;
}

inline unsigned __ballot_sync(unsigned, int pred) { return emu::ballot(pred); }
inline int __all_sync(unsigned, int pred) { return emu::ballot(pred) == emu::live_lanes(); }
inline int __any_sync(unsigned, int pred) { return emu::ballot(pred) != 0; }

// Atomics: fibers switch only at barriers, so a plain read-modify-write is atomic.
template <typename T, typename U>
T atomicAdd(T* p, U v) { T old = *p; *p = old + static_cast<T>(v); return old; }
template <typename T, typename U>
T atomicMax(T* p, U v) { T old = *p; *p = old > static_cast<T>(v) ? old : static_cast<T>(v); return old; }
template <typename T, typename U>
T atomicMin(T* p, U v) { T old = *p; *p = old < static_cast<T>(v) ? old : static_cast<T>(v); return old; }
template <typename T, typename U>
T atomicOr(T* p, U v) { T old = *p; *p = old | static_cast<T>(v); return old; }
template <typename T, typename U>
T atomicExch(T* p, U v) { T old = *p; *p = static_cast<T>(v); return old; }
template <typename T>
T atomicCAS(T* p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }

inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32); }
inline long long __mul64hi(long long a, long long b) { return static_cast<long long>((static_cast<__int128>(a) * b) >> 64); }
// prmt.b32 default mode: byte i of the result is byte (s >> 4i) & 7 of {y, x}, replicated sign when bit 3 is set.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    const uint64_t v = (static_cast<uint64_t>(y) << 32) | x;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned sel = (s >> (4 * i)) & 15;
        unsigned byte = (v >> (8 * (sel & 7))) & 0xff;
        if (sel & 8) byte = (byte & 0x80) ? 0xff : 0;
        r |= byte << (8 * i);
    }
    return r;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
template <typename T>
T __ldcs(const T* p) { return *p; }
template <typename T>
T __ldg(const T* p) { return *p; }
template <typename T>
void __stcs(T* p, T v) { *p = v; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __float2int_rd(float x) { return static_cast<int>(std::floor(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
using std::isfinite;
using std::isinf;
using std::isnan;
template <typename A, typename B>
inline typename std::common_type<A, B>::type min(A a, B b) { return a < b ? a : b; }
template <typename A, typename B>
inline typename std::common_type<A, B>::type max(A a, B b) { return a > b ? a : b; }

// ---- the runtime API the host code of the kernels calls ----
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorLaunchFailure = 4 };
using cudaStream_t = void*;
#define cudaStreamPerThread (reinterpret_cast<cudaStream_t>(2))
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };

inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated CUDA error"; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) {
    *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <typename T>
cudaError_t cudaMallocAsync(T** p, size_t bytes, cudaStream_t s) { return cudaMallocAsync(reinterpret_cast<void**>(p), bytes, s); }
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMallocAsync(reinterpret_cast<void**>(p), bytes, nullptr); }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t = nullptr) { std::memmove(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { std::memmove(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) { std::memset(d, v, n); return cudaSuccess; }
inline cudaError_t cudaMemset(void* d, int v, size_t n) { std::memset(d, v, n); return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaPeekAtLastError() { return emu::last_error() ? cudaErrorLaunchFailure : cudaSuccess; }
inline cudaError_t cudaGetLastError() {
    const int e = emu::last_error();
    emu::last_error() = 0;
    return e ? cudaErrorLaunchFailure : cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
    *v = a == cudaDevAttrMultiProcessorCount ? 132 : 232448;
    return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
inline cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { *f = *t = size_t(80) << 30; return cudaSuccess; }
template <typename F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute a, int v) {
    if (a == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (v > 232448) return cudaErrorInvalidValue;
        emu::max_dynamic_smem()[reinterpret_cast<const void*>(kernel)] = v;
    }
    return cudaSuccess;
}
inline size_t __cvta_generic_to_shared(const void* p) { return reinterpret_cast<size_t>(p); }
