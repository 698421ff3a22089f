// The emulator's sm_90a PTX (tests/emu/README.md): the warpgroup MMA of int8_matmul_sm90.cu and int8_matmul_tma.cu,
// wgmma.mma_async.sync.aligned.m64nNk32.s32.s8.s8 with both operands in shared memory, and its fences and groups.
// Source for every layout: the PTX ISA, section "Asynchronous Warpgroup Level Matrix Multiply-Accumulate Instructions"
// (https://docs.nvidia.com/cuda/parallel-thread-execution/#asynchronous-warpgroup-level-matrix-instructions).
//
// Asynchrony, as cp.async: an mma_async is recorded when the warpgroup issues it (its descriptors decoded, its shared
// addresses fixed) and performed when a wgmma.wait_group of the issuing warp covers its group, reading shared memory
// then. So a kernel that refills a stage before the wait that retires the wgmma reading it computes with the new
// data and fails its comparison; a write into a pending wgmma's operands is also reported where it is issued
// (sm90_check_write: cp.async here).
#include <algorithm>
#include <memory>
#include <vector>

#include "cuda_emu.h"

namespace emu {
namespace {

bool starts(const char* s, const char* p) { return strncmp(s, p, strlen(p)) == 0; }

// One warp's share of one warpgroup MMA: rows [16 w, 16 w + 16) of the 64 x N product (w = the warp in its warpgroup;
// every D element of a warp's lanes lies in those rows, see perform()), with A and B already resolved to shared
// addresses: 16-byte chunk c (k bytes 16c .. 16c+15) of operand row r at a_chunk[2 r + c] / b_chunk[2 r + c].
struct Piece {
    int n = 0;           // N
    bool scale_d = false;
    bool done = false;
    int32_t* d[32][128];  // lane l's accumulator registers
    uint32_t a_chunk[16 * 2];
    std::vector<uint32_t> b_chunk;
    uint32_t lo = ~0u, hi = 0;  // the shared bytes [lo, hi) it reads
};

struct ThreadWg {
    bool fenced = false;                                     // has executed wgmma.fence
    std::vector<std::vector<std::shared_ptr<Piece>>> groups;  // committed wgmma-groups, then the open one (last)
};

// Per block: each thread's wgmma state; the operands each thread brings to the warpgroup's mma_async.
std::vector<ThreadWg> tw;
struct Issue {
    uint64_t da, db;
    int n, scale_d;
    const char* text;
    int32_t* const* d;
};
std::vector<Issue> issue;
std::vector<std::shared_ptr<Piece>> pending;  // the block's issued pieces, performed ones dropped lazily

ThreadWg& me() { return tw[thread_linear()]; }

// PTX ISA "Matrix Descriptor Format": bits 13-0 start address, 29-16 leading dimension byte offset (LBO), 45-32
// stride dimension byte offset (SBO), each encoded as (x & 0x3FFFF) >> 4; 51-49 base offset; 63-62 swizzle mode
// (0 none, 1 128-byte, 2 64-byte, 3 32-byte). Other bits are reserved: reported when set.
// Address of 16-byte chunk c (k bytes [16c, 16c + 16), c = 0, 1 for k32 of 8-bit data) of row r of a K-major operand,
// the canonical layouts of "Shared Memory Matrix Layout" / "Canonical Layouts" (T = 16 one-byte elements per 128 bits):
//   no swizzle:  ((8,m),(T,2k)):((1T,SBO),(1,LBO))  -> start + (r % 8) * 16 + (r / 8) * SBO + c * LBO
//                (core matrices of 8 rows x 16 bytes; LBO: between core matrices along K, SBO: between 8-row groups);
//   128B swizzle: Swizzle<3,4,3> o ((8,m),(T,2k)):((8T,SBO),(1,T)) -> a = start + (r % 8) * 128 + (r / 8) * SBO + 16 c,
//                then address bits [4,7) ^= bits [7,10) (LBO unused). The swizzle acts on the address: with base
//                offset 0 the pattern repeats from 1024-byte boundaries, which is the only form emulated.
bool decode(uint64_t desc, int rows, uint32_t* chunk, const char* which) {
    const uint32_t reserved = (uint32_t)((desc >> 14) & 3) | (uint32_t)((desc >> 30) & 3) | (uint32_t)((desc >> 46) & 7) |
                              (uint32_t)((desc >> 52) & 0x3ff);
    const int base = (int)((desc >> 49) & 7), mode = (int)(desc >> 62);
    if (reserved) error("wgmma %s descriptor %#llx sets reserved bits", which, (unsigned long long)desc);
    if (mode != 0 && mode != 1) {
        error("wgmma %s descriptor: swizzle mode %d not emulated (only none and 128-byte)", which, mode);
        return false;
    }
    if (mode == 1 && base != 0) {
        error("wgmma %s descriptor: base offset %d not emulated (only 0: patterns at 1024-byte boundaries)", which, base);
        return false;
    }
    const uint32_t start = shared_addr18((uint32_t)(desc & 0x3fff) << 4);
    const uint32_t lbo = (uint32_t)((desc >> 16) & 0x3fff) << 4, sbo = (uint32_t)((desc >> 32) & 0x3fff) << 4;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < 2; ++c) {
            uint32_t a;
            if (mode == 0) {
                a = start + (r % 8) * 16 + (r / 8) * sbo + c * lbo;
            } else {
                a = start + (r % 8) * 128 + (r / 8) * sbo + 16 * c;
                a ^= ((a >> 7) & 7) << 4;
            }
            chunk[2 * r + c] = a;
        }
    return true;
}

void widen(Piece& p, uint32_t a) {
    p.lo = std::min(p.lo, a);
    p.hi = std::max(p.hi, a + 16);
}

// The last of the warpgroup's threads to reach the mma_async: every thread must bring the same instruction and
// operands (.aligned); one Piece per warp, appended to each of its lanes' open wgmma-group.
void issue_wg(int g) {
    const int t0 = 128 * g;
    const Issue& f = issue[t0];
    for (int t = t0; t < t0 + 128; ++t) {
        const Issue& o = issue[t];
        if (o.da != f.da || o.db != f.db || o.n != f.n || o.scale_d != f.scale_d || strcmp(o.text, f.text) != 0) {
            error("wgmma.mma_async: thread %d's operands differ from thread %d's (descriptors %#llx %#llx vs %#llx %#llx, scale-d %d vs %d)", t,
                  t0, (unsigned long long)o.da, (unsigned long long)o.db, (unsigned long long)f.da, (unsigned long long)f.db, o.scale_d,
                  f.scale_d);
            return;
        }
    }
    uint32_t a_all[64 * 2];
    std::vector<uint32_t> b_all((size_t)f.n * 2);
    if (!decode(f.da, 64, a_all, "A") || !decode(f.db, f.n, b_all.data(), "B")) return;
    for (int w = 0; w < 4; ++w) {
        auto p = std::make_shared<Piece>();
        p->n = f.n;
        p->scale_d = f.scale_d != 0;
        memcpy(p->a_chunk, a_all + 32 * w, sizeof p->a_chunk);
        p->b_chunk = b_all;
        for (uint32_t a : p->a_chunk) widen(*p, a);
        for (uint32_t a : p->b_chunk) widen(*p, a);
        pending.push_back(p);
        for (int l = 0; l < 32; ++l) {
            const int t = t0 + 32 * w + l;
            for (int i = 0; i < f.n / 2; ++i) p->d[l][i] = issue[t].d[i];
            tw[t].groups.back().push_back(p);
        }
    }
}

// D (+)= A . B^T for one warp's 16 rows, exact int32 sums (wrapping like the instruction).
// Accumulator fragment, PTX ISA "Register Fragments" for wgmma .m64nNk32, .s32 (Figure "WGMMA .m64nNk32 register
// fragment layout for accumulator matrix D"; CUTLASS cute/atom/mma_traits_sm90_gmma.hpp CLayout_64xN, thread
// (4,8,4):(128,1,16), value (2,2,N/8):(64,8,512) in m + 64 n): register i of lane l of warp w holds
// row 16 w + l / 4 + 8 ((i / 2) % 2), column 8 (i / 4) + 2 (l % 4) + i % 2.
void perform(Piece& p) {
    if (p.done) return;
    p.done = true;
    int8_t a[16][32];
    std::vector<int8_t> b((size_t)p.n * 32);
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 2; ++c) memcpy(&a[r][16 * c], shared_ptr_n(p.a_chunk[2 * r + c], 16), 16);
    for (int r = 0; r < p.n; ++r)
        for (int c = 0; c < 2; ++c) memcpy(&b[(size_t)r * 32 + 16 * c], shared_ptr_n(p.b_chunk[2 * r + c], 16), 16);
    for (int l = 0; l < 32; ++l)
        for (int i = 0; i < p.n / 2; ++i) {
            const int row = l / 4 + 8 * ((i / 2) % 2), col = 8 * (i / 4) + 2 * (l % 4) + i % 2;
            uint32_t acc = p.scale_d ? (uint32_t)*p.d[l][i] : 0u;
            for (int k = 0; k < 32; ++k) acc += (uint32_t)((int32_t)a[row][k] * (int32_t)b[(size_t)col * 32 + k]);
            *p.d[l][i] = (int32_t)acc;
        }
}

// wgmma.wait_group N for the calling thread: every committed group but the newest N is performed.
void wait_group(int n) {
    ThreadWg& t = me();
    const size_t committed = t.groups.size() - 1;
    if (committed <= (size_t)n) return;
    const size_t done = committed - (size_t)n;
    for (size_t g = 0; g < done; ++g)
        for (auto& p : t.groups[g]) perform(*p);
    t.groups.erase(t.groups.begin(), t.groups.begin() + (long)done);
}

}  // namespace

void sm90_block_begin() {
    tw.assign((size_t)thread_count(), ThreadWg{});
    for (ThreadWg& t : tw) t.groups.assign(1, {});
    issue.assign((size_t)thread_count(), Issue{});
    pending.clear();
}

void sm90_thread_exit() {
    ThreadWg& t = me();
    size_t pending = 0;
    for (auto& g : t.groups)
        for (auto& p : g) pending += !p->done;
    if (pending) error("thread exits with %zu wgmma.mma_async not waited for (wgmma.wait_group)", pending);
}

void sm90_check_write(unsigned smem, unsigned bytes, const char* what) {
    pending.erase(std::remove_if(pending.begin(), pending.end(), [](const std::shared_ptr<Piece>& p) { return p->done; }), pending.end());
    for (auto& p : pending)
        if (smem < p->hi && smem + bytes > p->lo) {
            error("%s writes shared [%#x, %#x) that a wgmma.mma_async not yet waited for reads", what, smem, smem + bytes);
            return;
        }
}

bool well_formed(const char* text, const char* m, int n, int nd);

// "wgmma.mma_async": .sync.aligned, issued by the whole warpgroup (PTX ISA "wgmma.mma_async"); here the warpgroup's
// 128 threads meet, so a thread that does not issue it deadlocks (reported) instead of passing silently.
void wgmma_mma_async(const char* text, int32_t* const* d, int nd, uint64_t desc_a, uint64_t desc_b, int scale_d) {
    const char* m = strstr(text, "wgmma.mma_async.sync.aligned.m64n");
    int n = m ? atoi(m + strlen("wgmma.mma_async.sync.aligned.m64n")) : 0;
    static const char* checked = nullptr;  // the last text found well-formed (the wrappers' literals: parsed once)
    if (text != checked && !well_formed(text, m, n, nd)) return;
    checked = text;
    if (warpgroup_live() != 128) error("wgmma.mma_async in a warpgroup of %d live threads", warpgroup_live());
    if (!me().fenced) error("wgmma.mma_async before the warp's first wgmma.fence");
    issue[thread_linear()] = Issue{desc_a, desc_b, n, scale_d, m, d};
    warpgroup_sync(issue_wg);
}

// The form wgmma_s8.cuh writes: N/2 accumulators {%0..}, descriptors %N/2 and %N/2+1, and scale-d as predicate
// p = (%N/2+2 != 0).
bool well_formed(const char* text, const char* m, int n, int nd) {
    char form[160];
    snprintf(form, sizeof form, "wgmma.mma_async.sync.aligned.m64n%dk32.s32.s8.s8 {", n);
    char pred[64];
    snprintf(pred, sizeof pred, "setp.ne.b32 p, %%%d, 0;", nd + 2);
    char tail[64];
    snprintf(tail, sizeof tail, "}, %%%d, %%%d, p;", nd, nd + 1);
    if (!m || !starts(m, form) || n != 2 * nd || !strstr(text, pred) || !strstr(text, tail)) {
        error("unemulated PTX: %s", text);
        return false;
    }
    return true;
}

// Operand-less sm_90 PTX. wgmma.fence / commit_group / wait_group are .sync.aligned: warp-synchronous here.
bool sm90_ptx(const char* text) {
    if (starts(text, "wgmma.fence.sync.aligned;")) {
        warp_sync();
        me().fenced = true;
        return true;
    }
    if (starts(text, "wgmma.commit_group.sync.aligned;")) {
        warp_sync();
        me().groups.emplace_back();
        return true;
    }
    if (starts(text, "wgmma.wait_group.sync.aligned ")) {
        // The warp's lanes meet first: the one that completes the meeting performs the groups (each Piece is the whole
        // warp's) before any lane goes on, as the instruction completes them for the warp.
        warp_sync();
        wait_group(atoi(text + strlen("wgmma.wait_group.sync.aligned ")));
        return true;
    }
    // Orders this thread's generic-proxy shared writes (cp.async, stores) before its async-proxy accesses (wgmma,
    // TMA). Every write here is performed in program order, so there is nothing to order.
    if (starts(text, "fence.proxy.async.shared::cta;")) return true;
    return false;
}

bool sm90_ptx(const char* text, int n) {
    (void)text, (void)n;
    return false;
}

}  // namespace emu
