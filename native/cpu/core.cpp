// Library core: errors, CPU features, memory with leak accounting, device copies.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "../common/internal.h"
#include "parallel.h"

#ifndef QFT4J_VERSION
#define QFT4J_VERSION "dev"
#endif

namespace {

thread_local char g_error[1024];

struct Stats {
    int64_t live_bytes = 0, live_handles = 0, peak_bytes = 0;
};

// Every live allocation, per device, so that frees are checked and leaks are counted.
struct Registry {
    std::mutex m;
    std::unordered_map<int32_t, std::unordered_map<int64_t, int64_t>> sizes;  // device -> addr -> bytes
    std::unordered_map<int32_t, Stats> stats;
};

Registry& registry() {
    static Registry* r = new Registry();  // never destroyed: frees may run during JVM shutdown
    return *r;
}

bool valid_device(int32_t device) { return device == QFT_DEVICE_CPU || (device >= 0 && device < 64); }

}  // namespace

extern "C" {

int qft_set_error(int status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return status;
}

void qft_clear_error(void) { g_error[0] = '\0'; }

const char* qft_version(void) { return QFT4J_VERSION; }
const char* qft_last_error(void) { return g_error; }

int32_t qft_cpu_features(void) {
    __builtin_cpu_init();
    int32_t f = 0;
    if (__builtin_cpu_supports("avx2")) f |= QFT_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= QFT_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= QFT_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= QFT_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vnni")) f |= QFT_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("avxvnni")) f |= QFT_CPU_AVXVNNI;
    return f;
}

int32_t qft_cpu_threads(void) { return qft::cpu_threads(); }

int qft_set_cpu_threads(int32_t threads) {
    if (threads < 1 || threads > 1024)
        return qft_set_error(QFT_EINVAL, "qft_set_cpu_threads: threads must be in [1, 1024], got %d", threads);
    return qft::guarded("qft_set_cpu_threads", [&] {
        qft::set_cpu_threads(threads);
        return QFT_OK;
    });
}

int qft_alloc(int32_t device, int64_t bytes, int64_t* out_addr) {
    if (out_addr == nullptr || bytes < 0 || !valid_device(device))
        return qft_set_error(QFT_EINVAL, "qft_alloc: bad arguments (device %d, bytes %lld)", device, (long long)bytes);
    *out_addr = 0;
    return qft::guarded("qft_alloc", [&] {
        int64_t size = bytes == 0 ? 1 : bytes;  // distinct non-null addresses even for empty tensors
        int64_t addr = 0;
        if (device == QFT_DEVICE_CPU) {
            void* p = std::aligned_alloc(64, static_cast<size_t>((size + 63) / 64 * 64));
            if (p == nullptr)
                return qft_set_error(QFT_ENOMEM, "qft_alloc: cannot allocate %lld bytes of host memory", (long long)bytes);
            addr = static_cast<int64_t>(reinterpret_cast<uintptr_t>(p));
        } else {
            int rc = qft::cuda_call("qft_cuda_malloc", device, size, &addr);
            if (rc != QFT_OK) return rc;
        }
        Registry& r = registry();
        std::lock_guard<std::mutex> lk(r.m);
        r.sizes[device][addr] = bytes;
        Stats& s = r.stats[device];
        s.live_bytes += bytes;
        s.live_handles += 1;
        if (s.live_bytes > s.peak_bytes) s.peak_bytes = s.live_bytes;
        *out_addr = addr;
        return QFT_OK;
    });
}

int qft_free(int32_t device, int64_t addr) {
    return qft::guarded("qft_free", [&] {
        Registry& r = registry();
        {
            std::lock_guard<std::mutex> lk(r.m);
            auto& m = r.sizes[device];
            auto it = m.find(addr);
            if (it == m.end())
                return qft_set_error(QFT_EINVAL, "qft_free: address 0x%llx was not allocated by qft4j on device %d (double free?)",
                                     (unsigned long long)addr, device);
            Stats& s = r.stats[device];
            s.live_bytes -= it->second;
            s.live_handles -= 1;
            m.erase(it);
        }
        if (device == QFT_DEVICE_CPU) {
            std::free(qft::ptr<void>(addr));
            return QFT_OK;
        }
        return qft::cuda_call("qft_cuda_free", device, addr);
    });
}

int qft_memory_stats(int32_t device, int64_t* live_bytes, int64_t* live_handles, int64_t* peak_bytes) {
    if (live_bytes == nullptr || live_handles == nullptr || peak_bytes == nullptr)
        return qft_set_error(QFT_EINVAL, "qft_memory_stats: null output");
    Registry& r = registry();
    std::lock_guard<std::mutex> lk(r.m);
    Stats s = r.stats[device];
    *live_bytes = s.live_bytes;
    *live_handles = s.live_handles;
    *peak_bytes = s.peak_bytes;
    return QFT_OK;
}

int qft_memset_zero(int32_t device, int64_t addr, int64_t bytes) {
    if (addr == 0 || bytes < 0) return qft_set_error(QFT_EINVAL, "qft_memset_zero: null address or negative size");
    if (device == QFT_DEVICE_CPU) {
        std::memset(qft::ptr<void>(addr), 0, static_cast<size_t>(bytes));
        return QFT_OK;
    }
    return qft::cuda_call("qft_cuda_memset_zero", device, addr, bytes);
}

// kind: 0 host->host, 1 host->device, 2 device->host, 3 device->device (cudaMemcpyKind order).
int qft_copy(int32_t dst_device, int64_t dst, int32_t src_device, int64_t src, int64_t bytes) {
    if (bytes == 0) return QFT_OK;
    if (dst == 0 || src == 0 || bytes < 0) return qft_set_error(QFT_EINVAL, "qft_copy: null address or negative size");
    if (dst_device == QFT_DEVICE_CPU && src_device == QFT_DEVICE_CPU) {
        std::memmove(qft::ptr<void>(dst), qft::ptr<void>(src), static_cast<size_t>(bytes));
        return QFT_OK;
    }
    int32_t kind = (src_device == QFT_DEVICE_CPU ? 0 : 2) + (dst_device == QFT_DEVICE_CPU ? 0 : 1);
    int32_t device = dst_device == QFT_DEVICE_CPU ? src_device : dst_device;
    return qft::cuda_call("qft_cuda_memcpy", device, dst, src, bytes, kind);
}

int qft_copy_from_host(int32_t device, int64_t dst, const void* src, int64_t bytes) {
    if (src == nullptr && bytes > 0) return qft_set_error(QFT_EINVAL, "qft_copy_from_host: null source");
    return qft_copy(device, dst, QFT_DEVICE_CPU, static_cast<int64_t>(reinterpret_cast<uintptr_t>(src)), bytes);
}

int qft_copy_to_host(int32_t device, void* dst, int64_t src, int64_t bytes) {
    if (dst == nullptr && bytes > 0) return qft_set_error(QFT_EINVAL, "qft_copy_to_host: null destination");
    return qft_copy(QFT_DEVICE_CPU, static_cast<int64_t>(reinterpret_cast<uintptr_t>(dst)), device, src, bytes);
}

int qft_synchronize(int32_t device) {
    if (device == QFT_DEVICE_CPU) return QFT_OK;
    return qft::cuda_call("qft_cuda_synchronize", device);
}

}  // extern "C"
