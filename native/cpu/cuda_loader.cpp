// Finds the NVIDIA driver and loads a qft4j CUDA kernel library, both through dlopen, so that
// libqft4j.so itself never depends on CUDA and loads on machines without any GPU software.
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "../common/internal.h"

namespace {

// The few CUDA driver API entry points the probe needs (cuda.h is not required to build this).
using CuInit = int (*)(unsigned);
using CuDriverGetVersion = int (*)(int*);
using CuDeviceGetCount = int (*)(int*);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceGetAttribute = int (*)(int*, int, int);
using CuDeviceGetName = int (*)(char*, int, int);
using CuDeviceTotalMem = int (*)(size_t*, int);
using CuGetErrorString = int (*)(int, const char**);

constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;

struct Driver {
    void* handle = nullptr;
    std::string error;  // why the driver is unusable; empty when it is usable
    CuDriverGetVersion driver_version = nullptr;
    CuDeviceGetCount device_count = nullptr;
    CuDeviceGet device_get = nullptr;
    CuDeviceGetAttribute attribute = nullptr;
    CuDeviceGetName name = nullptr;
    CuDeviceTotalMem total_mem = nullptr;
    CuGetErrorString error_string = nullptr;
};

std::string driver_error(const Driver& d, const char* call, int rc) {
    const char* msg = nullptr;
    if (d.error_string != nullptr) d.error_string(rc, &msg);
    char buf[256];
    snprintf(buf, sizeof buf, "%s failed with CUDA driver error %d (%s)", call, rc, msg ? msg : "unknown");
    return buf;
}

const Driver& driver() {
    static Driver d;
    static std::once_flag once;
    std::call_once(once, [] {
        d.handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (d.handle == nullptr) {
            const char* why = dlerror();
            d.error = std::string("the NVIDIA driver library libcuda.so.1 was not found (no NVIDIA driver installed?): ") +
                      (why ? why : "");
            return;
        }
        auto init = reinterpret_cast<CuInit>(dlsym(d.handle, "cuInit"));
        d.driver_version = reinterpret_cast<CuDriverGetVersion>(dlsym(d.handle, "cuDriverGetVersion"));
        d.device_count = reinterpret_cast<CuDeviceGetCount>(dlsym(d.handle, "cuDeviceGetCount"));
        d.device_get = reinterpret_cast<CuDeviceGet>(dlsym(d.handle, "cuDeviceGet"));
        d.attribute = reinterpret_cast<CuDeviceGetAttribute>(dlsym(d.handle, "cuDeviceGetAttribute"));
        d.name = reinterpret_cast<CuDeviceGetName>(dlsym(d.handle, "cuDeviceGetName"));
        d.total_mem = reinterpret_cast<CuDeviceTotalMem>(dlsym(d.handle, "cuDeviceTotalMem_v2"));
        d.error_string = reinterpret_cast<CuGetErrorString>(dlsym(d.handle, "cuGetErrorString"));
        if (!init || !d.driver_version || !d.device_count || !d.device_get || !d.attribute || !d.name || !d.total_mem) {
            d.error = "libcuda.so.1 lacks a required entry point (driver too old?)";
            return;
        }
        int rc = init(0);
        if (rc != 0) d.error = driver_error(d, "cuInit", rc);
    });
    return d;
}

struct CudaLibrary {
    std::mutex m;
    void* handle = nullptr;
    std::string info;
};

CudaLibrary& cuda_library() {
    static CudaLibrary* lib = new CudaLibrary();
    return *lib;
}

}  // namespace

extern "C" {

int qft_cuda_probe(int32_t* device_count, int32_t* driver_version) {
    if (device_count == nullptr || driver_version == nullptr) return qft_set_error(QFT_EINVAL, "qft_cuda_probe: null output");
    *device_count = 0;
    *driver_version = 0;
    const Driver& d = driver();
    if (!d.error.empty()) return qft_set_error(QFT_ENODEV, "%s", d.error.c_str());
    int version = 0, count = 0;
    int rc = d.driver_version(&version);
    if (rc != 0) return qft_set_error(QFT_ENODEV, "%s", driver_error(d, "cuDriverGetVersion", rc).c_str());
    rc = d.device_count(&count);
    if (rc != 0) return qft_set_error(QFT_ENODEV, "%s", driver_error(d, "cuDeviceGetCount", rc).c_str());
    *device_count = count;
    *driver_version = version;
    return QFT_OK;
}

int qft_cuda_device_info(int32_t ordinal, int32_t* cc_major, int32_t* cc_minor, int64_t* total_bytes,
                         int32_t* sm_count, char* name, int64_t name_len) {
    if (!cc_major || !cc_minor || !total_bytes || !sm_count || !name || name_len < 1)
        return qft_set_error(QFT_EINVAL, "qft_cuda_device_info: null output or empty name buffer");
    const Driver& d = driver();
    if (!d.error.empty()) return qft_set_error(QFT_ENODEV, "%s", d.error.c_str());
    int dev = 0, major = 0, minor = 0, sms = 0;
    size_t bytes = 0;
    int rc = d.device_get(&dev, ordinal);
    if (rc != 0) return qft_set_error(QFT_ENODEV, "cuda:%d: %s", ordinal, driver_error(d, "cuDeviceGet", rc).c_str());
    if ((rc = d.attribute(&major, kAttrComputeCapabilityMajor, dev)) != 0 ||
        (rc = d.attribute(&minor, kAttrComputeCapabilityMinor, dev)) != 0 ||
        (rc = d.attribute(&sms, kAttrMultiprocessorCount, dev)) != 0)
        return qft_set_error(QFT_ENODEV, "cuda:%d: %s", ordinal, driver_error(d, "cuDeviceGetAttribute", rc).c_str());
    if ((rc = d.total_mem(&bytes, dev)) != 0)
        return qft_set_error(QFT_ENODEV, "cuda:%d: %s", ordinal, driver_error(d, "cuDeviceTotalMem", rc).c_str());
    int len = name_len > 4096 ? 4096 : static_cast<int>(name_len);
    if ((rc = d.name(name, len, dev)) != 0)
        return qft_set_error(QFT_ENODEV, "cuda:%d: %s", ordinal, driver_error(d, "cuDeviceGetName", rc).c_str());
    name[len - 1] = '\0';
    *cc_major = major;
    *cc_minor = minor;
    *total_bytes = static_cast<int64_t>(bytes);
    *sm_count = sms;
    return QFT_OK;
}

int qft_cuda_open(const char* library_path) {
    if (library_path == nullptr) return qft_set_error(QFT_EINVAL, "qft_cuda_open: null path");
    CudaLibrary& lib = cuda_library();
    std::lock_guard<std::mutex> lk(lib.m);
    if (lib.handle != nullptr) return QFT_OK;
    void* h = dlopen(library_path, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        const char* why = dlerror();
        return qft_set_error(QFT_ENODEV, "cannot load CUDA library %s: %s", library_path, why ? why : "");
    }
    using Info = int (*)(char*, int64_t);
    auto info = reinterpret_cast<Info>(dlsym(h, "qft_cuda_library_info_impl"));
    char buf[512] = {0};
    if (info == nullptr || info(buf, sizeof buf) != QFT_OK) {
        dlclose(h);
        return qft_set_error(QFT_ENODEV, "%s is not a usable qft4j CUDA library: %s", library_path, qft_last_error());
    }
    lib.info = buf;
    lib.handle = h;
    return QFT_OK;
}

int32_t qft_cuda_loaded(void) {
    CudaLibrary& lib = cuda_library();
    std::lock_guard<std::mutex> lk(lib.m);
    return lib.handle != nullptr ? 1 : 0;
}

const char* qft_cuda_library_info(void) {
    CudaLibrary& lib = cuda_library();
    std::lock_guard<std::mutex> lk(lib.m);
    return lib.info.c_str();
}

void* qft_cuda_symbol(const char* name) {
    CudaLibrary& lib = cuda_library();
    void* h;
    {
        std::lock_guard<std::mutex> lk(lib.m);
        h = lib.handle;
    }
    if (h == nullptr) {
        qft_set_error(QFT_ENODEV, "%s: no CUDA library is loaded (CUDA unavailable; use the CPU device)", name);
        return nullptr;
    }
    void* sym = dlsym(h, name);
    if (sym == nullptr) qft_set_error(QFT_EUNSUPPORTED, "%s: not provided by the loaded CUDA library", name);
    return sym;
}

}  // extern "C"
