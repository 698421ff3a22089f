// The emulator's sm_90a PTX (tests/emu/README.md): the warpgroup MMA of int8_matmul_sm90.cu and int8_matmul_tma.cu,
// wgmma.mma_async.sync.aligned.m64nNk32.s32.s8.s8 with both operands in shared memory, and its fences and groups;
// the tensor maps (cuTensorMapEncodeTiled), TMA copies (cp.async.bulk.tensor) and mbarriers of int8_matmul_tma.cu.
// Source for the wgmma layouts: the PTX ISA, section "Asynchronous Warpgroup Level Matrix Multiply-Accumulate
// Instructions" (https://docs.nvidia.com/cuda/parallel-thread-execution/#asynchronous-warpgroup-level-matrix-instructions);
// for TMA, "Tensors" (5.5: "Tiled Mode", "Out of Boundary Access", "Swizzling Modes"), "cp.async.bulk.tensor" and
// "mbarrier"; for the tensor map, the driver API's cuTensorMapEncodeTiled ("Tensor Map Object Managment").
//
// Asynchrony, as cp.async: an mma_async is recorded when the warpgroup issues it (its descriptors decoded, its shared
// addresses fixed) and performed when a wgmma.wait_group of the issuing warp covers its group, reading shared memory
// then. So a kernel that refills a stage before the wait that retires the wgmma reading it computes with the new
// data and fails its comparison; a write into a pending wgmma's operands is also reported where it is issued
// (sm90_check_write: cp.async and TMA loads). TMA loads land when a thread waits on their mbarrier, TMA stores read
// their box at the bulk wait_group that covers them: as late as allowed, so reading early or overwriting early shows.
#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "cuda_emu.h"
#include "include/cudaTypedefs.h"

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
    uint32_t lo[2] = {~0u, ~0u}, hi[2] = {0, 0};  // the shared bytes it reads: [lo[0], hi[0]) of A, [lo[1], hi[1]) of B
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
// Per thread, the shared bytes its landed cp.async copies wrote (generic proxy) since its last fence.proxy.async: a
// wgmma (async proxy) must not read them (PTX ISA "Memory Consistency Model", proxies: the writer's
// fence.proxy.async, then a barrier, orders them before the wgmma). At most kUnfencedKept per thread are kept (the
// newest): kernels that never issue a wgmma (mma.sync ones) need none of them.
struct Span {
    uint32_t lo, hi;
};
std::vector<std::vector<Span>> unfenced;
constexpr size_t kUnfencedKept = 1024;

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

void widen(Piece& p, int op, uint32_t a) {
    p.lo[op] = std::min(p.lo[op], a);
    p.hi[op] = std::max(p.hi[op], a + 16);
}

// The last of the warpgroup's threads to reach the mma_async: every thread must bring the same instruction and
// operands (.aligned); one Piece per warp, appended to each of its lanes' open wgmma-group.
void issue_wg(int g) {
    const int t0 = 128 * g;
    const Issue& f = issue[t0];
    for (int t = t0; t < t0 + 128; ++t) {
        const Issue& o = issue[t];
        if (o.da != f.da || o.db != f.db || o.n != f.n || (o.scale_d != 0) != (f.scale_d != 0) || strcmp(o.text, f.text) != 0) {
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
        for (uint32_t a : p->a_chunk) widen(*p, 0, a);
        for (uint32_t a : p->b_chunk) widen(*p, 1, a);
        for (int t = 0; t < (int)unfenced.size(); ++t)
            for (const Span& sp : unfenced[t])
                for (int op = 0; op < 2; ++op)
                    if (sp.lo < p->hi[op] && sp.hi > p->lo[op]) {
                        error("wgmma.mma_async reads shared [%#x, %#x) that thread %d's cp.async wrote with no fence.proxy.async after it", sp.lo,
                              sp.hi, t);
                        unfenced[t].clear();  // reported once
                        break;
                    }
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

// ---- tensor maps ----
// What emu_tensor_map_encode_tiled records in the opaque CUtensorMap (128 bytes): a rank-2 tiled map.
struct TensorMap {
    uint64_t magic;
    unsigned char* base;
    uint64_t dim[2], stride;  // elements; bytes between rows (dimension 1)
    uint32_t box[2], elem;    // box in elements; element size in bytes
    uint32_t swizzle;         // CU_TENSOR_MAP_SWIZZLE_NONE or _128B
};
static_assert(sizeof(TensorMap) <= sizeof(CUtensorMap), "the record fits the opaque map");
constexpr uint64_t kMapMagic = 0x454d55544d415032ull;  // "EMUTMAP2"

const TensorMap* tensor_map(const void* p) {
    const TensorMap* m = static_cast<const TensorMap*>(p);
    if (reinterpret_cast<uintptr_t>(p) % 64 || m->magic != kMapMagic) {
        error("%p is not a tensor map from cuTensorMapEncodeTiled", p);
        return nullptr;
    }
    return m;
}

// Shared address of byte x of box row r, box rows of box[0] * elem bytes, per PTX ISA "Swizzling Modes": with the
// 128-byte swizzle, 16-byte chunk c of a 128-byte shared line l is stored at chunk c ^ (l % 8), the pattern repeating
// from 1024-byte boundaries (base offset (dstMem / 128) % 8 otherwise: the swizzle acts on address bits [4,7) ^= [7,10)).
uint32_t box_addr(const TensorMap& m, uint32_t smem, uint32_t r, uint32_t x) {
    uint32_t a = smem + r * m.box[0] * m.elem + x;
    if (m.swizzle == CU_TENSOR_MAP_SWIZZLE_128B) a ^= ((a >> 7) & 7) << 4;
    return a;
}

// Copies the box at tensor coordinates (c0, c1) between global memory and shared memory at smem ("Tiled Mode"):
// load: elements outside the tensor are zero ("Out of Boundary Access", zero fill); store: they are not written.
void tensor_copy(const TensorMap& m, uint32_t smem, int c0, int c1, bool load) {
    const uint32_t row = m.box[0] * m.elem;
    for (uint32_t r = 0; r < m.box[1]; ++r) {
        const int64_t y = (int64_t)c1 + r;
        for (uint32_t x = 0; x < row; x += m.elem) {
            const int64_t e = (int64_t)c0 + x / m.elem;
            const bool in = y >= 0 && y < (int64_t)m.dim[1] && e >= 0 && e < (int64_t)m.dim[0];
            unsigned char* s = static_cast<unsigned char*>(shared_ptr_n(box_addr(m, smem, r, x), m.elem));
            unsigned char* g = in ? m.base + (uint64_t)y * m.stride + (uint64_t)e * m.elem : nullptr;
            if (load) {
                if (in) memcpy(s, g, m.elem);
                else memset(s, 0, m.elem);
            } else if (in) {
                memcpy(g, s, m.elem);
            }
        }
    }
}

void check_box(const TensorMap& m, uint32_t smem, const char* what) {
    if (smem % 128) error("%s: shared address %#x not 128-byte aligned", what, smem);
    if (m.swizzle == CU_TENSOR_MAP_SWIZZLE_128B && smem % 1024)
        error("%s: 128-byte swizzled box at %#x, not on a 1024-byte boundary (the layout wgmma and the kernel assume)", what, smem);
    shared_ptr_n(smem, (size_t)m.box[0] * m.elem * m.box[1]);  // the whole box inside one shared array
}

// ---- mbarriers (PTX ISA "mbarrier"): a phase completes when its pending arrival count and its transaction count
// (tx-count) are both zero; then the next phase starts with the expected count again. ----
struct TmaLoad {
    TensorMap map;
    uint32_t smem;
    int c0, c1;
};
struct Mbarrier {
    int expected = 0, pending = 0;
    int64_t tx = 0;
    uint32_t phase = 0;           // phases completed
    std::vector<TmaLoad> loads;   // issued, not yet landed: they land (complete_tx) when a waiter needs them
};
std::map<uint32_t, Mbarrier> barriers;  // by shared address; per block

Mbarrier* barrier(uint32_t addr, const char* what) {
    auto it = barriers.find(addr);
    if (it == barriers.end()) {
        error("%s on shared address %#x: no mbarrier.init there", what, addr);
        return nullptr;
    }
    return &it->second;
}

void try_complete(Mbarrier& b) {
    if (b.pending == 0 && b.tx == 0) {
        ++b.phase;
        b.pending = b.expected;
        wake_event(&b);
    }
}

void arrive(uint32_t addr, Mbarrier& b) {
    if (b.pending == 0) error("mbarrier.arrive on %#x: the phase expects no more arrivals", addr);
    --b.pending;
    try_complete(b);
}

// The TMA loads queued on b land now, each completing its box's bytes (also the zero-filled ones).
void land(uint32_t addr, Mbarrier& b) {
    std::vector<TmaLoad> loads;
    loads.swap(b.loads);
    for (const TmaLoad& l : loads) {
        tensor_copy(l.map, l.smem, l.c0, l.c1, true);
        b.tx -= (int64_t)l.map.box[0] * l.map.elem * l.map.box[1];
    }
    try_complete(b);
}

// cp.async.bulk.tensor stores of one thread: bulk async-groups, committed ones then the open one (last).
struct BulkStore {
    TensorMap map;
    uint32_t smem;
    int c0, c1;
};
std::vector<std::vector<std::vector<BulkStore>>> bulk;

// cp.async.bulk.wait_group[.read] n: the stores of all committed groups but the newest n read their boxes now.
void bulk_wait(int n) {
    auto& groups = bulk[thread_linear()];
    const size_t committed = groups.size() - 1;
    if (committed <= (size_t)n) return;
    const size_t done = committed - (size_t)n;
    for (size_t g = 0; g < done; ++g)
        for (const BulkStore& s : groups[g]) tensor_copy(s.map, s.smem, s.c0, s.c1, false);
    groups.erase(groups.begin(), groups.begin() + (long)done);
}

}  // namespace

void sm90_block_begin() {
    tw.assign((size_t)thread_count(), ThreadWg{});
    for (ThreadWg& t : tw) t.groups.assign(1, {});
    issue.assign((size_t)thread_count(), Issue{});
    pending.clear();
    unfenced.assign((size_t)thread_count(), {});
    barriers.clear();
    bulk.assign((size_t)thread_count(), std::vector<std::vector<BulkStore>>(1));
}

void sm90_thread_exit() {
    ThreadWg& t = me();
    size_t pending = 0;
    for (auto& g : t.groups)
        for (auto& p : g) pending += !p->done;
    if (pending) error("thread exits with %zu wgmma.mma_async not waited for (wgmma.wait_group)", pending);
    size_t stores = 0;
    for (auto& g : bulk[thread_linear()]) stores += g.size();
    if (stores) error("thread exits with %zu cp.async.bulk stores not waited for (cp.async.bulk.wait_group)", stores);
}

void sm90_generic_write(int thread, unsigned smem, unsigned bytes) {
    auto& u = unfenced[(size_t)thread];
    if (u.size() == kUnfencedKept) u.erase(u.begin(), u.begin() + kUnfencedKept / 2);
    u.push_back(Span{smem, smem + bytes});
}

void sm90_check_write(unsigned smem, unsigned bytes, const char* what) {
    pending.erase(std::remove_if(pending.begin(), pending.end(), [](const std::shared_ptr<Piece>& p) { return p->done; }), pending.end());
    for (auto& p : pending)
        if ((smem < p->hi[0] && smem + bytes > p->lo[0]) || (smem < p->hi[1] && smem + bytes > p->lo[1])) {
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
    if (warpgroup_live() != 128) {  // every thread of the warpgroup finds this, so none waits for the others
        error("wgmma.mma_async in a warpgroup of %d live threads", warpgroup_live());
        return;
    }
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
    // Orders this thread's generic-proxy shared writes (cp.async, stores) before async-proxy accesses (wgmma, TMA).
    // Writes are performed in program order here; what is tracked is the landed cp.async copies (not plain stores).
    if (starts(text, "fence.proxy.async.shared::cta;")) {
        unfenced[thread_linear()].clear();
        return true;
    }
    // Makes this thread's mbarrier.init visible to the other threads and the async proxy: barriers are here at once.
    if (starts(text, "fence.mbarrier_init.release.cluster;")) return true;
    if (starts(text, "setmaxnreg.inc.sync.aligned.u32 ") || starts(text, "setmaxnreg.dec.sync.aligned.u32 ")) {
        // Registers are not modelled; the count must be in [24, 256] and a multiple of 8 (PTX ISA "setmaxnreg").
        const int r = atoi(text + strlen("setmaxnreg.inc.sync.aligned.u32 "));
        if (r < 24 || r > 256 || r % 8) error("%s: register count outside [24, 256] or not a multiple of 8", text);
        warp_sync();
        return true;
    }
    if (starts(text, "cp.async.bulk.commit_group;")) {
        bulk[thread_linear()].emplace_back();
        return true;
    }
    if (starts(text, "cp.async.bulk.wait_group ")) {
        bulk_wait(atoi(text + strlen("cp.async.bulk.wait_group ")));
        return true;
    }
    return false;
}

bool sm90_ptx(const char* text, int n) {
    if (starts(text, "cp.async.bulk.wait_group.read %0;")) {
        bulk_wait(n);
        return true;
    }
    return false;
}

void ptx(const char* text, unsigned addr, int n) {
    if (starts(text, "mbarrier.init.shared::cta.b64 [%0], %1;")) {
        if (addr % 8) error("mbarrier.init at %#x: not 8-byte aligned", addr);
        if (n < 1) error("mbarrier.init with count %d", n);
        shared_ptr_n(addr, 8);
        auto it = barriers.find(addr);
        if (it != barriers.end() && !it->second.loads.empty()) error("mbarrier.init at %#x while TMA loads on it are in flight", addr);
        Mbarrier& b = barriers[addr];
        b = Mbarrier{};
        b.expected = b.pending = n;
        return;
    }
    if (starts(text, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;")) {
        if (Mbarrier* b = barrier(addr, "mbarrier.arrive.expect_tx")) {
            b->tx += n;
            arrive(addr, *b);
            wake_event(b);
        }
        return;
    }
    error("unemulated PTX: %s", text);
}

void ptx(const char* text, unsigned addr) {
    if (!starts(text, "mbarrier.arrive.shared::cta.b64 _, [%0];")) {
        error("unemulated PTX: %s", text);
        return;
    }
    if (Mbarrier* b = barrier(addr, "mbarrier.arrive")) arrive(addr, *b);
}

// The kernel's whole wait loop (try_wait.parity, branch back while false) in one call: the thread blocks (no busy
// loop: fibers are cooperative) until the phase of that parity has completed, i.e. the current phase's parity differs.
// A fresh barrier is in phase 0, so parity 1 counts as completed. Loads queued on the barrier land first.
void ptx(const char* text, unsigned addr, unsigned parity) {
    if (!strstr(text, "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;") || !strstr(text, "@!p bra")) {
        error("unemulated PTX: %s", text);
        return;
    }
    Mbarrier* b = barrier(addr, "mbarrier.try_wait.parity");
    if (!b) return;
    while ((b->phase & 1) == (parity & 1)) {
        if (!b->loads.empty()) {
            land(addr, *b);
            continue;
        }
        wait_event(b);
    }
}

// TMA load: queued on the mbarrier (its bytes complete there when it lands), after the checks the hardware would fail.
void ptx(const char* text, unsigned smem, const void* map, int c0, int c1, unsigned bar) {
    if (!starts(text, "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];")) {
        error("unemulated PTX: %s", text);
        return;
    }
    const TensorMap* m = tensor_map(map);
    Mbarrier* b = barrier(bar, "cp.async.bulk.tensor");
    if (!m || !b) return;
    check_box(*m, smem, "cp.async.bulk.tensor load");
    sm90_check_write(smem, m->box[0] * m->elem * m->box[1], "cp.async.bulk.tensor");
    b->loads.push_back(TmaLoad{*m, smem, c0, c1});
    wake_event(b);
}

// TMA store: joins the thread's open bulk async-group; reads its box at the wait_group that covers it.
void ptx(const char* text, const void* map, int c0, int c1, unsigned smem) {
    if (!starts(text, "cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];")) {
        error("unemulated PTX: %s", text);
        return;
    }
    const TensorMap* m = tensor_map(map);
    if (!m) return;
    check_box(*m, smem, "cp.async.bulk.tensor store");
    bulk[thread_linear()].back().push_back(BulkStore{*m, smem, c0, c1});
}

void ptx(const char* text, const void* map) {
    if (!starts(text, "prefetch.tensormap [%0];")) {
        error("unemulated PTX: %s", text);
        return;
    }
    // A cache hint on the 128-byte object's memory, contents not interpreted (so the all-zero maps that the TMA kernel
    // leaves for K = 0, when it issues no copy, are fine); the object is 64-byte aligned like any CUtensorMap.
    if (reinterpret_cast<uintptr_t>(map) % 64) error("prefetch.tensormap of %p: not 64-byte aligned", map);
}

}  // namespace emu

// cuTensorMapEncodeTiled: the requirements of the driver API documentation that a rank-2 tiled map can break, checked
// as the driver checks them (CUDA_ERROR_INVALID_VALUE); what the emulation leaves out (other ranks, interleave, swizzle
// modes, OOB NaN fill, element strides) is an emulation error.
CUresult emu_tensor_map_encode_tiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* base, const cuuint64_t* dim,
                                     const cuuint64_t* strides, const cuuint32_t* box, const cuuint32_t* elem_strides,
                                     CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle, CUtensorMapL2promotion,
                                     CUtensorMapFloatOOBfill fill) {
    using emu::error;
    static const uint32_t sizes[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2};
    if ((unsigned)type >= sizeof sizes / sizeof sizes[0] || rank != 2 || interleave != CU_TENSOR_MAP_INTERLEAVE_NONE ||
        (swizzle != CU_TENSOR_MAP_SWIZZLE_NONE && swizzle != CU_TENSOR_MAP_SWIZZLE_128B) || fill != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE ||
        elem_strides[0] != 1 || elem_strides[1] != 1) {
        error("cuTensorMapEncodeTiled: type %d rank %u interleave %d swizzle %d fill %d element strides (%u, %u) not emulated", (int)type, rank,
              (int)interleave, (int)swizzle, (int)fill, elem_strides[0], elem_strides[1]);
        return CUDA_ERROR_INVALID_VALUE;
    }
    const uint32_t es = sizes[type];
    const bool ok = reinterpret_cast<uintptr_t>(map) % 64 == 0 && reinterpret_cast<uintptr_t>(base) % 16 == 0 && dim[0] >= 1 &&
                    dim[0] <= (1ull << 32) && dim[1] >= 1 && dim[1] <= (1ull << 32) && strides[0] % 16 == 0 && strides[0] < (1ull << 40) &&
                    box[0] >= 1 && box[0] <= 256 && box[1] >= 1 && box[1] <= 256 && (box[0] * es) % 16 == 0 &&
                    (swizzle != CU_TENSOR_MAP_SWIZZLE_128B || box[0] * es <= 128);
    if (!ok) return CUDA_ERROR_INVALID_VALUE;
    if (swizzle == CU_TENSOR_MAP_SWIZZLE_128B && box[0] * es != 128) {
        error("cuTensorMapEncodeTiled: 128-byte swizzle with %u-byte box rows not emulated (only 128)", box[0] * es);
        return CUDA_ERROR_INVALID_VALUE;
    }
    emu::TensorMap m{};
    m.magic = emu::kMapMagic;
    m.base = static_cast<unsigned char*>(base);
    m.dim[0] = dim[0], m.dim[1] = dim[1], m.stride = strides[0];
    m.box[0] = box[0], m.box[1] = box[1], m.elem = es;
    m.swizzle = (uint32_t)swizzle;
    memset(map, 0, sizeof *map);
    memcpy(map, &m, sizeof m);
    return CUDA_SUCCESS;
}
