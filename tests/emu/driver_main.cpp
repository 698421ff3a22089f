// The drivers' shared main and the CUDA library lookup: qft_cuda_symbol (native/cpu/cuda_loader.cpp in the real
// build) finds the emulated qft_cuda_* entry points linked into this executable, so the CPU library's dispatch
// (device >= 0) reaches them exactly as it reaches the real CUDA library.
#include <dlfcn.h>

#include "../../native/common/internal.h"
#include "driver.h"

namespace drv {
int failures = 0;
}
void run_cases();

extern "C" void* qft_cuda_symbol(const char* name) {
    void* s = dlsym(RTLD_DEFAULT, name);
    if (s == nullptr) qft_set_error(QFT_ENODEV, "emulator: no %s linked", name);
    return s;
}

int main() {
    run_cases();
    if (drv::failures) printf("%d FAILED\n", drv::failures);
    return drv::failures ? 1 : 0;
}
