/* A stand-in for the NVIDIA driver library libcuda.so.1 holding only the entry points qft4j's CUDA probe
 * (native/cpu/cuda_loader.cpp) calls. It reports one device, the CUDA-on-CPU emulator, with the attributes the
 * emulated runtime reports (tests/emu/emu.cpp): compute capability 9.0, 4 SMs, 8 GiB. Only for tests: put its
 * directory first on LD_LIBRARY_PATH together with -Dqft4j.cuda.library=<emulated libqft4j_cuda.so>. */
#include <stddef.h>
#include <string.h>

#define EMU_OK 0
#define EMU_INVALID_DEVICE 101
#define EMU_INVALID_VALUE 1

int cuInit(unsigned flags) { return flags == 0 ? EMU_OK : EMU_INVALID_VALUE; }
int cuDriverGetVersion(int* v) { *v = 13000; return EMU_OK; }
int cuDeviceGetCount(int* n) { *n = 1; return EMU_OK; }
int cuDeviceGet(int* dev, int ordinal) {
    if (ordinal != 0) return EMU_INVALID_DEVICE;
    *dev = 0;
    return EMU_OK;
}
/* Attribute numbers of CUdevice_attribute: 16 multiprocessor count, 75/76 compute capability major/minor. */
int cuDeviceGetAttribute(int* v, int attr, int dev) {
    if (dev != 0) return EMU_INVALID_DEVICE;
    switch (attr) {
        case 16: *v = 4; return EMU_OK;
        case 75: *v = 9; return EMU_OK;
        case 76: *v = 0; return EMU_OK;
        default: return EMU_INVALID_VALUE;
    }
}
int cuDeviceGetName(char* name, int len, int dev) {
    if (dev != 0) return EMU_INVALID_DEVICE;
    if (len < 1) return EMU_INVALID_VALUE;
    strncpy(name, "qft4j CUDA emulator (CPU)", (size_t)len - 1);
    name[len - 1] = '\0';
    return EMU_OK;
}
int cuDeviceTotalMem_v2(size_t* bytes, int dev) {
    if (dev != 0) return EMU_INVALID_DEVICE;
    *bytes = (size_t)8 << 30;
    return EMU_OK;
}
int cuGetErrorString(int rc, const char** msg) {
    *msg = rc == EMU_OK ? "no error" : rc == EMU_INVALID_DEVICE ? "invalid device ordinal (emulated driver)" : "invalid value (emulated driver)";
    return EMU_OK;
}
