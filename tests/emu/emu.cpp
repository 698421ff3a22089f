// The emulator's scheduler, PTX and runtime (tests/emu/README.md). Each CUDA thread of a block is a fiber with
// its own stack, switched by a hand-written x86-64 context switch (no signal-mask syscalls, unlike swapcontext);
// a fiber runs until it reaches a barrier (__syncthreads, or a warp-synchronous op) or exits, then the next
// runnable fiber in thread order runs. Runs are deterministic.
#include <sys/mman.h>

#include <algorithm>
#include <cstdarg>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../../native/common/tf32.h"
#include "cuda_emu.h"

extern "C" void emu_switch(void** save_sp, void* new_sp);
extern "C" void emu_fiber_entry();
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.globl emu_fiber_entry
.type emu_fiber_entry,@function
emu_fiber_entry:
    movq %r12, %rdi
    call emu_fiber_main
    ud2
)");

namespace emu {

// WAIT_WG: in a warpgroup-wide op (wgmma.mma_async); WAIT_EVENT: blocked until wake_event(key) (an mbarrier phase).
enum State { RUNNABLE, WAIT_BLOCK, WAIT_WARP, WAIT_WG, WAIT_EVENT, DONE };

struct CpCopy {
    void* dst;
    const void* src;
    int size, src_bytes;
    unsigned smem;  // dst as a shared address
};

struct Thread {
    void* sp = nullptr;
    State state = DONE;
    uint3 tid{};
    int linear = 0, warp = 0, lane = 0;
    unsigned warp_ops = 0;                 // warp-synchronous ops done: selects the exchange slot buffer
    const void* wait_key = nullptr;        // WAIT_EVENT: what it waits for
    std::vector<std::vector<CpCopy>> cp;   // cp.async groups: committed ones, then the open one (last)
};

struct Warp {
    int live = 0, arrived = 0;
    uint64_t slots[2][32 * 10];            // two buffers so a fast lane's next op never overwrites a slot still read
};

// Warpgroup: 4 consecutive warps, threads [128 g, 128 g + 128) (PTX ISA "Warpgroup"), for the sm_90 wgmma ops.
struct Warpgroup {
    int live = 0, arrived = 0;
};

uint3 block_idx;
dim3 block_dim, grid_dim;

namespace {
constexpr size_t kStack = 256 * 1024;
std::vector<Thread> threads;
std::vector<Warp> warps;
std::vector<Warpgroup> warpgroups;
Thread* running = nullptr;
void* sched_sp = nullptr;
int live = 0, block_arrived = 0;
int n_errors = 0;
char* stacks = nullptr;
size_t stacks_n = 0;
unsigned char* dyn = nullptr;
size_t dyn_size = 0, dyn_cap = 0;
std::map<const void*, int> max_dyn_attr;  // cudaFuncAttributeMaxDynamicSharedMemorySize per kernel (default 48 KiB)
std::set<void*> poisoned;
// Shared memory as the kernels address it (__cvta_generic_to_shared, PTX operands): 32-bit addresses in a window of
// their own, not the host pointers' low bits, so the emulator also works as a position-independent library loaded
// anywhere (build-lib.sh). Each shared array (the dynamic buffer, every static __shared__ array) gets a disjoint
// range whose address is congruent to the host pointer modulo 4096: alignment and swizzle bits are preserved.
struct SharedRange {
    unsigned char* host;
    size_t bytes;
    uint32_t addr;
};
std::vector<SharedRange> shared_ranges;
uint32_t next_shared_addr = 1024;
Body cur_body;
void* cur_ctx;
// Per OS thread, as the CUDA runtime's: each Java thread's calls see only their own errors.
thread_local cudaError_t last_error = cudaSuccess;
constexpr int kMaxErrorsShown = 20;
bool quiet_errors = false;
thread_local std::string last_error_text;  // the first emulation error since the last cudaGetLastError: cudaGetErrorString's text

// The next runnable thread after linear index `from` - 1 in this round, or null. A fiber that blocks or exits passes
// control straight to it (one context switch instead of two through the scheduler); the scheduler starts each round.
// The order is the round-robin the scheduler would follow: threads in index order, each until it blocks.
Thread* next_runnable(size_t from) {
    for (size_t i = from; i < threads.size(); ++i)
        if (threads[i].state == RUNNABLE) return &threads[i];
    return nullptr;
}

void switch_from(Thread* me) {
    Thread* next = next_runnable((size_t)me->linear + 1);
    running = next;
    emu_switch(&me->sp, next ? next->sp : sched_sp);
}

void yield() { switch_from(running); }

void release_block() {
    for (auto& t : threads)
        if (t.state == WAIT_BLOCK) t.state = RUNNABLE;
    block_arrived = 0;
}

// Warp w's threads: linear indices [32 w, 32 w + 32) (only a warp's own lanes are visited: warp ops are frequent);
// warpgroup g's: [128 g, 128 g + 128).
Thread* warp_begin(int w) { return threads.data() + 32 * (size_t)w; }
Thread* warp_end(int w) { return threads.data() + std::min(threads.size(), 32 * (size_t)w + 32); }
Thread* group_begin(int g) { return threads.data() + 128 * (size_t)g; }
Thread* group_end(int g) { return threads.data() + std::min(threads.size(), 128 * (size_t)g + 128); }

void release_warp(int w) {
    for (Thread* t = warp_begin(w); t != warp_end(w); ++t)
        if (t->state == WAIT_WARP) t->state = RUNNABLE;
    warps[w].arrived = 0;
}

const char* where() {
    static char buf[128];
    snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", block_idx.x, block_idx.y, block_idx.z, running ? running->tid.x : 0,
             running ? running->tid.y : 0, running ? running->tid.z : 0);
    return buf;
}

void flush_cp(Thread& t, size_t keep, bool at_exit);
}  // namespace

Thread* cur() { return running; }
const uint3& thread_idx() { return running->tid; }
int lane() { return running->lane; }
int errors() { return n_errors; }
void reset_errors() {
    n_errors = 0;
    last_error = cudaSuccess;
    last_error_text.clear();
}
void quiet(bool q) { quiet_errors = q; }

// Every emulation error also fails the launch, as a fault on the GPU would: the kernel library's launch check
// (cudaPeekAtLastError) turns it into QFT_ECUDA with this text, so a Java test on the emulated GPU fails with it.
void error(const char* fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (++n_errors <= kMaxErrorsShown && !quiet_errors) fprintf(stderr, "EMU ERROR (%s): %s\n", where(), msg);
    if (last_error == cudaSuccess) last_error_text = std::string("emulation error in ") + where() + ": " + msg;
    last_error = cudaErrorLaunchFailure;
}

void check_mask(unsigned mask, const char* what) {
    const Warp& w = warps[running->warp];
    unsigned want = w.live == 32 ? 0xffffffffu : 0u;
    if (mask != 0xffffffffu) error("%s with mask %#x: only full-warp masks are emulated", what, mask);
    (void)want;
}

void syncthreads() {
    running->state = WAIT_BLOCK;
    if (++block_arrived == live) release_block();
    else yield();
}

void warp_sync() {
    Warp& w = warps[running->warp];
    if (block_arrived > 0)  // else no lane can be waiting at __syncthreads
        for (Thread* t = warp_begin(running->warp); t != warp_end(running->warp); ++t)
            if (t->state == WAIT_BLOCK) {
                error("warp-synchronous op while lane %d of the warp waits at __syncthreads", t->lane);
                break;
            }
    running->state = WAIT_WARP;
    ++running->warp_ops;
    if (++w.arrived == w.live) release_warp(running->warp);
    else yield();
}

// The warpgroup's live threads meet; the last to arrive runs last(g) before any of them goes on.
void warpgroup_sync(void (*last)(int g)) {
    const int g = running->linear / 128;
    Warpgroup& wg = warpgroups[g];
    if (block_arrived > 0)
        for (Thread* t = group_begin(g); t != group_end(g); ++t)
            if (t->state == WAIT_BLOCK) {
                error("warpgroup op while thread %d of the warpgroup waits at __syncthreads", t->linear);
                break;
            }
    running->state = WAIT_WG;
    if (++wg.arrived == wg.live) {
        last(g);
        for (Thread* t = group_begin(g); t != group_end(g); ++t)
            if (t->state == WAIT_WG) t->state = RUNNABLE;
        wg.arrived = 0;
    } else {
        yield();
    }
}
int warpgroup_live() { return warpgroups[running->linear / 128].live; }
int thread_linear() { return running->linear; }
int thread_count() { return (int)threads.size(); }

// A thread blocked until another one wakes its key: not runnable, so a wait nobody ends is reported as a deadlock.
void wait_event(const void* key) {
    running->state = WAIT_EVENT;
    running->wait_key = key;
    yield();
}
void wake_event(const void* key) {
    for (Thread& t : threads)
        if (t.state == WAIT_EVENT && t.wait_key == key) t.state = RUNNABLE;
}

uint64_t* warp_slots() { return warps[running->warp].slots[running->warp_ops & 1]; }
int warp_live() { return warps[running->warp].live; }

void* dyn_smem() { return dyn; }

namespace {
void add_shared_range(void* p, size_t bytes) {
    const uintptr_t h = reinterpret_cast<uintptr_t>(p);
    uint32_t a = (next_shared_addr + 4095) / 4096 * 4096 + (uint32_t)(h % 4096);
    shared_ranges.push_back({static_cast<unsigned char*>(p), bytes, a});
    next_shared_addr = a + (uint32_t)bytes + 4096;  // a gap: an address past one array never lands in the next
    if (next_shared_addr < a) abort();              // 4 GiB of shared arrays: not a real kernel set
}
}  // namespace

void poison_shared(void* p, size_t bytes) {
    if (!poisoned.insert(p).second) return;
    memset(p, 0xff, bytes);
    for (const SharedRange& r : shared_ranges)
        if (r.host == p) return;
    add_shared_range(p, bytes);
}

// [addr, addr + n) inside one shared array, or an error (and a harmless sink).
void* shared_ptr_n(unsigned addr, size_t n) {
    for (const SharedRange& r : shared_ranges)
        if (addr >= r.addr && addr - r.addr + n <= r.bytes) return r.host + (addr - r.addr);
    error("shared bytes [%#x, %#x) are in no shared array", addr, addr + (unsigned)n);
    static unsigned char sink[1024];
    return sink;
}

// The full 32-bit shared address whose low 18 bits are a18: wgmma matrix descriptors keep only those bits (PTX ISA
// "Matrix Descriptor Format": (x & 0x3FFFF) >> 4), enough on the GPU, whose shared window is below 256 KiB.
unsigned shared_addr18(unsigned a18) {
    unsigned found = 0;
    int n = 0;
    for (const SharedRange& r : shared_ranges)
        for (unsigned c : {(r.addr & ~0x3FFFFu) | a18, ((r.addr & ~0x3FFFFu) | a18) + 0x40000u})
            if (c >= r.addr && c - r.addr < r.bytes) found = c, ++n;
    if (n != 1) error("descriptor address %#x matches %d shared arrays", a18, n);
    return found;
}

void* shared_ptr(unsigned addr) {
    for (const SharedRange& r : shared_ranges)
        if (addr >= r.addr && addr - r.addr <= r.bytes) return r.host + (addr - r.addr);
    error("shared address %#x is in no shared array", addr);
    static unsigned char sink[256];  // lets the failing op finish harmlessly
    return sink;
}

extern "C" void emu_fiber_main(Thread* t) {
    cur_body(cur_ctx);
    flush_cp(*t, 0, true);
    sm90_thread_exit();
    t->state = DONE;
    --live;
    --warps[t->warp].live;
    if (block_arrived > 0) {
        error("thread exits while %d threads wait at __syncthreads (barrier divergence)", block_arrived);
        if (block_arrived == live) release_block();
    }
    Warp& w = warps[t->warp];
    if (w.arrived > 0) {
        error("thread exits while %d lanes of its warp wait in a warp-synchronous op", w.arrived);
        if (w.arrived == w.live) release_warp(t->warp);
    }
    Warpgroup& g = warpgroups[t->linear / 128];
    --g.live;
    if (g.arrived > 0) {
        error("thread exits while %d threads of its warpgroup wait in a warpgroup op", g.arrived);
        if (g.arrived == g.live) {
            for (Thread& o : threads)
                if (o.state == WAIT_WG && o.linear / 128 == t->linear / 128) o.state = RUNNABLE;
            g.arrived = 0;
        }
    }
    switch_from(t);
    abort();
}

// One grid at a time in the process: the scheduler's state is global. The library build is called from several
// Java threads; their launches then run one after another, each to completion.
std::mutex& lock() {
    static std::mutex m;
    return m;
}

void run_grid(const void* kernel, const char* name, dim3 grid, dim3 block, size_t smem, Body body, void* ctx) {
    std::lock_guard<std::mutex> serial(lock());
    static const bool trace = getenv("EMU_TRACE") != nullptr;
    if (trace) fprintf(stderr, "launch %s grid (%u,%u,%u) block (%u,%u,%u) smem %zu\n", name, grid.x, grid.y, grid.z, block.x, block.y, block.z, smem);
    const size_t nt = (size_t)block.x * block.y * block.z;
    if (nt == 0 || nt > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "EMU ERROR: bad launch configuration grid (%u,%u,%u) block (%u,%u,%u)\n", grid.x, grid.y, grid.z, block.x, block.y, block.z);
        ++n_errors;
        last_error = cudaErrorInvalidValue;
        return;
    }
    const auto attr = max_dyn_attr.find(kernel);
    const int limit = attr == max_dyn_attr.end() ? 48 * 1024 : attr->second;
    if (smem > (size_t)limit) {
        fprintf(stderr, "EMU ERROR: %s: %zu bytes of dynamic shared memory above the kernel's limit %d (cudaFuncSetAttribute)\n", name, smem, limit);
        ++n_errors;
        last_error = cudaErrorInvalidValue;
        return;
    }
    if (stacks_n < nt) {
        if (stacks) munmap(stacks, stacks_n * kStack);
        stacks = static_cast<char*>(mmap(nullptr, nt * kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
        if (stacks == MAP_FAILED) abort();
        for (size_t i = 0; i < nt; ++i) mprotect(stacks + i * kStack, 4096, PROT_NONE);  // guard page under each stack
        stacks_n = nt;
    }
    if (dyn_cap < smem + 16) {
        if (dyn) munmap(dyn, dyn_cap);
        dyn_cap = (smem + 16 + 4095) / 4096 * 4096;
        dyn = static_cast<unsigned char*>(mmap(nullptr, dyn_cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (dyn == MAP_FAILED) abort();
    }
    // Each launch gets a fresh shared window, as on the GPU: from 4 KiB up (a Hopper block has 1 KiB reserved below
    // its shared memory), the dynamic buffer first, then each static array when the kernel first touches it. Per
    // launch, so a kernel's addresses stay inside the 18 bits of a wgmma descriptor however many kernels ran before
    // (a library loaded in a JVM runs them all).
    shared_ranges.clear();
    next_shared_addr = 1024;
    add_shared_range(dyn, smem + 16);
    dyn_size = smem;
    cur_body = body;
    cur_ctx = ctx;
    grid_dim = grid;
    block_dim = block;
    const int nw = (int)((nt + 31) / 32);
    threads.assign(nt, Thread{});
    warps.assign(nw, Warp{});
    warpgroups.assign((nt + 127) / 128, Warpgroup{});
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                block_idx = {bx, by, bz};
                poisoned.clear();
                memset(dyn, 0xff, dyn_cap);
                for (int w = 0; w < nw; ++w) warps[w].live = 0, warps[w].arrived = 0;
                for (Warpgroup& g : warpgroups) g.live = 0, g.arrived = 0;
                sm90_block_begin();
                for (size_t i = 0; i < nt; ++i) {
                    Thread& t = threads[i];
                    t.tid = {(unsigned)(i % block.x), (unsigned)(i / block.x % block.y), (unsigned)(i / block.x / block.y)};
                    t.linear = (int)i, t.warp = (int)(i / 32), t.lane = (int)(i % 32), t.warp_ops = 0;
                    t.cp.assign(1, {});
                    t.state = RUNNABLE;
                    ++warps[t.warp].live;
                    ++warpgroups[i / 128].live;
                    // Initial frame for emu_switch: saved mxcsr/x87 word, r15..rbp (r12 = the thread), return address.
                    uint64_t* top = reinterpret_cast<uint64_t*>(stacks + (i + 1) * kStack);
                    uint64_t* sp = top - 10;
                    uint32_t csr[2];
                    asm volatile("stmxcsr %0; fnstcw %1" : "=m"(csr[0]), "=m"(csr[1]));
                    memcpy(sp, csr, 8);
                    sp[1] = 0, sp[2] = 0, sp[3] = 0;                    // r15 r14 r13
                    sp[4] = reinterpret_cast<uint64_t>(&t);            // r12
                    sp[5] = 0, sp[6] = 0;                              // rbx rbp
                    sp[7] = reinterpret_cast<uint64_t>(&emu_fiber_entry);
                    sp[8] = sp[9] = 0;
                    t.sp = sp;
                }
                live = (int)nt;
                block_arrived = 0;
                for (;;) {
                    // One round: the first runnable thread, which hands on to the next (switch_from) until the last
                    // one of the round switches back here.
                    const bool all_done = live == 0;
                    Thread* first = all_done ? nullptr : next_runnable(0);
                    const bool progress = first != nullptr;
                    if (first) {
                        running = first;
                        emu_switch(&sched_sp, first->sp);
                        running = nullptr;
                    }
                    if (all_done) break;
                    if (!progress) {
                        int wb = 0, ww = 0, wg = 0, we = 0;
                        for (auto& t : threads)
                            wb += t.state == WAIT_BLOCK, ww += t.state == WAIT_WARP, wg += t.state == WAIT_WG, we += t.state == WAIT_EVENT;
                        if (!quiet_errors)
                            fprintf(stderr, "EMU ERROR: deadlock in block (%u,%u,%u): %d threads at __syncthreads, %d in warp ops, %d in warpgroup ops, %d at mbarriers\n",
                                    bx, by, bz, wb, ww, wg, we);
                        ++n_errors;
                        last_error = cudaErrorLaunchFailure;
                        return;  // the stacks of the stuck fibers are simply abandoned
                    }
                }
            }
}

namespace {
void flush_cp(Thread& t, size_t keep, bool at_exit) {
    // Completes every committed group but the newest `keep`; at exit, everything (the open group too).
    const size_t committed = t.cp.size() - 1;
    const size_t done = at_exit ? t.cp.size() : committed > keep ? committed - keep : 0;
    for (size_t g = 0; g < done; ++g)
        for (const CpCopy& c : t.cp[g]) {
            if (!at_exit) sm90_generic_write(t.linear, c.smem, (unsigned)c.size);
            memcpy(c.dst, c.src, (size_t)c.src_bytes);
            memset(static_cast<char*>(c.dst) + c.src_bytes, 0, (size_t)(c.size - c.src_bytes));
        }
    t.cp.erase(t.cp.begin(), t.cp.begin() + (long)done);
    if (t.cp.empty()) t.cp.emplace_back();
}
}  // namespace

}  // namespace emu

using namespace emu;

size_t __cvta_generic_to_shared(const void* p) {
    const unsigned char* c = static_cast<const unsigned char*>(p);
    // An array's own range first: a pointer one past another array's end may be this array's start (adjacent statics).
    for (const SharedRange& r : shared_ranges)
        if (c >= r.host && c < r.host + r.bytes) return r.addr + (size_t)(c - r.host);
    for (const SharedRange& r : shared_ranges)
        if (c == r.host + r.bytes) return r.addr + (size_t)(c - r.host);
    error("__cvta_generic_to_shared of %p: not a shared array", p);
    return 0;
}

unsigned __ballot_sync(unsigned mask, int pred) {
    check_mask(mask, "__ballot_sync");
    // Each lane's slot carries the op's number, so lanes that exited before this op (stale slots) count as 0.
    uint64_t* s = warp_slots();
    const uint64_t tag = (uint64_t)running->warp_ops << 1;
    s[lane()] = tag | (pred != 0);
    warp_sync();
    unsigned r = 0;
    for (int l = 0; l < 32; ++l)
        if (s[l] == (tag | 1)) r |= 1u << l;
    return r;
}

int __float2int_rn(float f) {
    if (std::isnan(f)) return 0;
    if (f >= 2147483648.0f) return INT32_MAX;
    if (f <= -2147483648.0f) return INT32_MIN;
    return (int)std::nearbyint(f);  // default rounding mode: to nearest even
}
int __float2int_rd(float f) {
    if (std::isnan(f)) return 0;
    if (f >= 2147483648.0f) return INT32_MAX;
    if (f <= -2147483648.0f) return INT32_MIN;
    return (int)std::floor(f);
}
int __float2int_rz(float f) {
    if (std::isnan(f)) return 0;
    if (f >= 2147483648.0f) return INT32_MAX;
    if (f <= -2147483648.0f) return INT32_MIN;
    return (int)f;
}

unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    const uint64_t v = ((uint64_t)y << 32) | x;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) r |= (unsigned)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
    return r;
}

namespace emu {

static bool starts(const char* s, const char* p) { return strncmp(s, p, strlen(p)) == 0; }

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: PTX ISA "Matrix Fragments for mma.m16n8k8" (.tf32), g = lane/4,
// t = lane%4: A a0 (g, t) a1 (g+8, t) a2 (g, t+4) a3 (g+8, t+4); B b0 (k t, n g) b1 (k t+4, n g); C/D c0 (g, 2t)
// c1 (g, 2t+1) c2 (g+8, 2t) c3 (g+8, 2t+1). Each lane's outputs: c + sum over k = 0..7 of a*b in fp32 in that order
// (the products of TF32 values are exact in fp32; the hardware's sum order and internal precision differ).
void ptx(const char* text, float& d0, float& d1, float& d2, float& d3, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
         unsigned b1) {
    if (starts(text, "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32")) return mma_m16n8k16_bf16(d0, d1, d2, d3, a0, a1, a2, a3, b0, b1);
    if (!starts(text, "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32")) {
        error("unemulated PTX: %s", text);
        return;
    }
    check_mask(0xffffffffu, "mma.sync");
    if (warps[running->warp].live != 32) error("mma.sync in a warp of %d live lanes", warps[running->warp].live);
    uint64_t* s = warp_slots();
    const int l = lane();
    const unsigned in[6] = {a0, a1, a2, a3, b0, b1};
    for (int i = 0; i < 6; ++i) {
        if (in[i] & 0x1fffu) error("mma.sync .tf32 operand %s%d = %#x has low 13 bits set (not rounded to TF32)", i < 4 ? "a" : "b", i % 4, in[i]);
        s[l * 10 + i] = in[i];
    }
    warp_sync();
    auto A = [&](int r, int k) { return __uint_as_float((unsigned)s[(4 * (r % 8) + k % 4) * 10 + (r / 8) + 2 * (k / 4)]); };
    auto B = [&](int k, int n) { return __uint_as_float((unsigned)s[(4 * n + k % 4) * 10 + 4 + k / 4]); };
    const int g = l / 4, t = l % 4;
    float* d[4] = {&d0, &d1, &d2, &d3};
    for (int i = 0; i < 4; ++i) {
        const int r = g + 8 * (i >> 1), c = 2 * t + (i & 1);
        float acc = *d[i];
        for (int k = 0; k < 8; ++k) acc += A(r, k) * B(k, c);
        *d[i] = acc;
    }
}

static bool in_dyn(const void* p, size_t n) {
    auto a = static_cast<const unsigned char*>(p);
    return a >= dyn && a < dyn + dyn_cap;
    (void)n;
}

// cp.async.{ca,cg}.shared.global [smem], [gmem], size, src_bytes: queued in the thread's open group and performed at
// the cp.async.wait_group that covers it (or at exit), so a read before the wait sees stale (poisoned) data.
void ptx(const char* text, unsigned smem, const void* gmem, int src_bytes) {
    int size = 0;
    if (starts(text, "cp.async.ca.shared.global") || starts(text, "cp.async.cg.shared.global")) {
        const char* c = strchr(text, ']');
        c = c ? strchr(c + 1, ']') : nullptr;
        if (c) size = atoi(c + 2);
    }
    if (size != 4 && size != 8 && size != 16) {
        error("unemulated PTX: %s", text);
        return;
    }
    if (starts(text, "cp.async.cg") && size != 16) error("cp.async.cg with size %d (only 16)", size);
    void* dst = shared_ptr(smem);
    if (src_bytes < 0 || src_bytes > size) error("cp.async src-size %d outside [0, %d]", src_bytes, size);
    if ((uintptr_t)dst % size) error("cp.async destination %p not aligned to %d", dst, size);
    if ((uintptr_t)gmem % size) error("cp.async source %p not aligned to %d", gmem, size);
    if (in_dyn(dst, size) && (static_cast<unsigned char*>(dst) + size > dyn + dyn_size))
        error("cp.async destination %p past the %zu bytes of dynamic shared memory", dst, dyn_size);
    sm90_check_write(smem, (unsigned)size, "cp.async");
    running->cp.back().push_back(CpCopy{dst, gmem, size, src_bytes, smem});
}

void ptx(const char* text) {
    if (!starts(text, "cp.async.commit_group")) {
        if (sm90_ptx(text)) return;
        error("unemulated PTX: %s", text);
        return;
    }
    running->cp.emplace_back();
}

void ptx(const char* text, int n) {
    if (!starts(text, "cp.async.wait_group")) {
        if (sm90_ptx(text, n)) return;
        error("unemulated PTX: %s", text);
        return;
    }
    flush_cp(*running, (size_t)n, false);
}

void ptx(const char* text, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, unsigned smem) {
    if (!starts(text, "ldmatrix.sync.aligned.m8n8.x4.shared.b16")) {
        error("unemulated PTX: %s", text);
        return;
    }
    // Lane l supplies the address of row l % 8 of matrix l / 8; lane l receives, of each matrix i, the 32 bits at
    // row l / 4, columns 2 (l % 4) .. +1 (b16 elements).
    uint64_t* s = warp_slots();
    const int l = lane();
    s[l * 10] = smem;
    warp_sync();
    unsigned* r[4] = {&r0, &r1, &r2, &r3};
    for (int i = 0; i < 4; ++i) {
        const unsigned char* row = static_cast<const unsigned char*>(shared_ptr((unsigned)s[(8 * i + l / 4) * 10]));
        memcpy(r[i], row + 4 * (l % 4), 4);
    }
}

}  // namespace emu

// ---- runtime ----
static std::set<void*> allocations;
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t n) {
    std::lock_guard<std::mutex> serial(emu::lock());
    // Exactly n bytes (cudaMalloc's 256-byte alignment), so that an EMU_ASAN=1 build catches any access past them.
    if (posix_memalign(p, 256, n ? n : 1) != 0) return cudaErrorMemoryAllocation;
    memset(*p, 0xa5, n);  // like fresh device memory: garbage, not zeros
    allocations.insert(*p);
    return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
    if (p == nullptr) return cudaSuccess;
    std::lock_guard<std::mutex> serial(emu::lock());
    if (!allocations.erase(p)) return cudaErrorInvalidValue;
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { memmove(d, s, n); return cudaSuccess; }
cudaError_t cudaMemset(void* d, int v, size_t n) { memset(d, v, n); return cudaSuccess; }
cudaError_t cudaPeekAtLastError() { return emu::last_error; }
cudaError_t cudaGetLastError() {
    cudaError_t e = emu::last_error;
    emu::last_error = cudaSuccess;
    return e;
}
const char* cudaGetErrorString(cudaError_t e) {
    if (e == cudaSuccess) return "no error";
    if (e == cudaErrorLaunchFailure && !emu::last_error_text.empty()) return emu::last_error_text.c_str();
    return e == cudaErrorMemoryAllocation ? "out of memory (emulated)" : e == cudaErrorInvalidValue ? "invalid value (emulated)" : "emulated CUDA error";
}
// A device of 4 SMs: grid-stride loops that size their grids per SM run several iterations.
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
    switch (a) {
        case cudaDevAttrMultiProcessorCount: *v = 4; return cudaSuccess;
        case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 227 * 1024; return cudaSuccess;
        case cudaDevAttrMaxSharedMemoryPerBlock: *v = 48 * 1024; return cudaSuccess;
        case cudaDevAttrComputeCapabilityMajor: *v = 9; return cudaSuccess;
        case cudaDevAttrComputeCapabilityMinor: *v = 0; return cudaSuccess;
    }
    return cudaErrorInvalidValue;
}
cudaError_t emu_func_set_attribute(const void* f, int a, int v) {
    if (a == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (v > 227 * 1024) return cudaErrorInvalidValue;
        std::lock_guard<std::mutex> serial(emu::lock());
        emu::max_dyn_attr[f] = v;
    }
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { *f = *t = (size_t)8 << 30; return cudaSuccess; }
