// Internal helpers shared by the CPU library and the CUDA kernel libraries. Not part of the
// JavaCPP surface: nothing here is seen from Java.
#pragma once

#include <cstdint>
#include <exception>

#include "qft4j/core.h"

// Records the calling thread's error message (printf-style) and returns `status`.
extern "C" QFT_API int qft_set_error(int status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern "C" QFT_API void qft_clear_error(void);

// Looks up an entry point of the loaded CUDA library; nullptr (and an error) when none is loaded.
extern "C" QFT_API void* qft_cuda_symbol(const char* name);

namespace qft {

// Runs `body` (returning a status) so that no C++ exception escapes an extern "C" function.
template <class F>
int guarded(const char* fn, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return qft_set_error(QFT_ENOMEM, "%s: out of host memory", fn);
    } catch (const std::exception& e) {
        return qft_set_error(QFT_EINTERNAL, "%s: internal error: %s", fn, e.what());
    } catch (...) {
        return qft_set_error(QFT_EINTERNAL, "%s: internal error: unknown exception", fn);
    }
}

template <class T>
inline T* ptr(int64_t addr) { return reinterpret_cast<T*>(static_cast<uintptr_t>(addr)); }

// Calls the CUDA library's `name` entry point with the given arguments, or reports why it can't.
template <class... Args>
int cuda_call(const char* name, Args... args) {
    using Fn = int (*)(Args...);
    void* sym = qft_cuda_symbol(name);
    if (sym == nullptr) return QFT_ENODEV;
    return reinterpret_cast<Fn>(sym)(args...);
}

}  // namespace qft
