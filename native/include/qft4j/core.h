/* qft4j native core: the flat C ABI that JavaCPP binds.
 *
 * Conventions for every qft_* function:
 *  - returns a status (QFT_OK or a QFT_E* code); on failure qft_last_error() holds a message
 *    for the calling thread that names the function, the shapes and the cause;
 *  - memory is addressed by (device, int64 address): device QFT_DEVICE_CPU (-1) is host memory,
 *    device >= 0 is a CUDA ordinal; addresses come from qft_alloc;
 *  - sizes and shapes are int64_t; no C++ exception crosses this boundary. */
#ifndef QFT4J_CORE_H
#define QFT4J_CORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(QFT4J_BUILD)
#define QFT_API __attribute__((visibility("default")))
#else
#define QFT_API
#endif

/* Status codes (plain ints so that they mix with int returns in C++ lambdas). */
#define QFT_OK 0
#define QFT_EINVAL 1       /* bad argument: shape, null pointer, unknown device */
#define QFT_ENOMEM 2       /* allocation failed */
#define QFT_ECUDA 3        /* a CUDA runtime/driver call failed */
#define QFT_EUNSUPPORTED 4 /* the op is not available on this device */
#define QFT_EINTERNAL 5    /* a bug: an exception or broken invariant inside the library */
#define QFT_ENODEV 6       /* no such device / no CUDA library loaded */

#define QFT_DEVICE_CPU (-1)

/* Arithmetic of the fp32 engine products (qft_matmul_f32_*, qft_attention_*), their `math` argument.
 * QFT_MATH_FP32: fp32 multiplies and sums. QFT_MATH_TF32: every operand of a product is first rounded
 * to TF32 (fp32 with 10 mantissa bits, round half away from zero, as PTX cvt.rna.tf32.f32), products
 * are summed in fp32; the CUDA kernels then run on tensor cores (mma.sync m16n8k8 .tf32), and the CPU
 * references round the same way, so both backends compute the same model of the arithmetic. */
#define QFT_MATH_FP32 0
#define QFT_MATH_TF32 1

enum {
    QFT_CPU_AVX2 = 1,
    QFT_CPU_FMA = 2,
    QFT_CPU_AVX512F = 4,
    QFT_CPU_AVX512BW = 8,
    QFT_CPU_AVX512VNNI = 16,
    QFT_CPU_AVXVNNI = 32
};

QFT_API const char* qft_version(void);
/* Message of the last failing qft_* call on this thread ("" if none). */
QFT_API const char* qft_last_error(void);

/* CPU: feature bits (QFT_CPU_*) detected at run time, and the worker pool size. */
QFT_API int32_t qft_cpu_features(void);
QFT_API int32_t qft_cpu_threads(void);
QFT_API int qft_set_cpu_threads(int32_t threads);

/* CUDA driver probe through dlopen("libcuda.so.1"): works on machines without any CUDA library
 * (returns QFT_ENODEV with the reason). driver_version is CUDA's encoding, e.g. 13000. */
QFT_API int qft_cuda_probe(int32_t* device_count, int32_t* driver_version);
/* name: caller buffer of name_len bytes (NUL-terminated on return). */
QFT_API int qft_cuda_device_info(int32_t ordinal, int32_t* cc_major, int32_t* cc_minor,
                                 int64_t* total_bytes, int32_t* sm_count, char* name, int64_t name_len);
/* Loads a CUDA kernel library (libqft4j_cuda.so built for one GPU architecture). */
QFT_API int qft_cuda_open(const char* library_path);
/* 1 when a CUDA kernel library is loaded. */
QFT_API int32_t qft_cuda_loaded(void);
/* What the loaded CUDA library was built with ("" when none is loaded). */
QFT_API const char* qft_cuda_library_info(void);

/* Memory. CPU memory is 64-byte aligned. Live bytes/handles are tracked per device so that
 * leaks are testable; freeing an address qft4j did not allocate is an error, not a crash. */
QFT_API int qft_alloc(int32_t device, int64_t bytes, int64_t* out_addr);
QFT_API int qft_free(int32_t device, int64_t addr);
QFT_API int qft_memset_zero(int32_t device, int64_t addr, int64_t bytes);
QFT_API int qft_copy(int32_t dst_device, int64_t dst, int32_t src_device, int64_t src, int64_t bytes);
QFT_API int qft_copy_from_host(int32_t device, int64_t dst, const void* src, int64_t bytes);
QFT_API int qft_copy_to_host(int32_t device, void* dst, int64_t src, int64_t bytes);
/* Waits for the calling thread's work on the device (CUDA ops use the per-thread stream). */
QFT_API int qft_synchronize(int32_t device);
QFT_API int qft_memory_stats(int32_t device, int64_t* live_bytes, int64_t* live_handles, int64_t* peak_bytes);

#ifdef __cplusplus
}
#endif
#endif
