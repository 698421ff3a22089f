// S^T of a CSR row range on the GPU (hybrid_weight.h, qft_hybrid_sparse_transpose); CPU reference:
// native/cpu/sparse_transpose.cpp (a stable counting sort by column).
// The result is THE stable sort of the range's entries by column, which is unique, so any stable sort
// returns it bit for bit. cub::DeviceRadixSort is stable (documented) and its output depends on no atomic
// ordering, so it is used as is rather than a hand-written counting sort:
//   1. make_keys: for k < N (nnz_bound, or the range's nnz read back when the caller gives no bound), key k is
//      the column of entry row_ptr[0] + k, or `cols` (a sentinel that sorts last) past the range's end or for
//      a column outside [0, cols); payload k = k. Every row_ptr step, column and the bound are checked (the
//      first offence is kept with an atomicMin, whose result does not depend on order);
//   2. (key, payload) pairs are radix-sorted on the low bits that hold 0..cols;
//   3. t_ptr[c] = number of sorted keys below c (binary search, one thread per output row): the sentinels
//      fall past t_ptr[cols], which is the range's nnz;
//   4. t_idx[i] = the row holding sorted entry i (binary search in row_ptr), t_values[i] = its value.
// With a bound and a device counter (`bad`), nothing is read back: a backward pass calls this per layer with
// no host sync. A bad column or row_ptr step never leads to an out-of-bounds access: the payload is a permutation
// of 0..N-1, every binary search stays inside its array and the gather stops at t_ptr[cols]. (That row_ptr's values
// index col_idx and values is the caller's contract: their lengths are not passed.)
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <vector>

#include "check.cuh"

namespace {

constexpr int kThreads = 256;
constexpr unsigned long long kNoOffence = ~0ull;
constexpr unsigned long long kNegativeStart = ~0ull - 2;  // offence keys past rows + N: row_ptr[0] < 0,
constexpr unsigned long long kOverBound = ~0ull - 1;      // more entries than nnz_bound

// Items [0, rows) check row_ptr[r] <= row_ptr[r + 1] (offence key r); items rows + k make key k and payload k
// and check the column of entry row_ptr[0] + k (offence key rows + k) when it is in the range. The smallest key
// is the first offence in the order the CPU reference checks.
__global__ void make_keys(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col_idx,
                          int64_t n, uint32_t* __restrict__ keys, int32_t* __restrict__ payload, unsigned long long* __restrict__ offence) {
    const int64_t base = row_ptr[0], end = row_ptr[rows];
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        if (base < 0) atomicMin(offence, kNegativeStart);
        if (end - base > n) atomicMin(offence, kOverBound);
    }
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows + n; i += (int64_t)gridDim.x * blockDim.x) {
        if (i < rows) {
            if (row_ptr[i + 1] < row_ptr[i]) atomicMin(offence, static_cast<unsigned long long>(i));
            continue;
        }
        const int64_t k = i - rows, a = base + k;
        int64_t c = cols;
        if (base >= 0 && a < end) {
            c = col_idx[a];
            if (c < 0 || c >= cols) {
                atomicMin(offence, static_cast<unsigned long long>(i));
                c = cols;
            }
        }
        keys[k] = static_cast<uint32_t>(c);
        payload[k] = static_cast<int32_t>(k);
    }
}

// *bad += 1 when the call met an offence (the caller's device counter: no read-back).
__global__ void count_offence(const unsigned long long* __restrict__ offence, int* __restrict__ bad) {
    if (*offence != kNoOffence) atomicAdd(bad, 1);
}

// t_ptr (cols+1): t_ptr[c] = lower bound of c in the sorted columns keys (nnz).
__global__ void rows_of_transpose(int64_t cols, const uint32_t* __restrict__ keys, int64_t nnz, int32_t* __restrict__ t_ptr) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c <= cols; c += (int64_t)gridDim.x * blockDim.x) {
        int64_t lo = 0, hi = nnz;
        while (lo < hi) {
            const int64_t mid = (lo + hi) / 2;
            if (keys[mid] < static_cast<uint32_t>(c)) lo = mid + 1;
            else hi = mid;
        }
        t_ptr[c] = static_cast<int32_t>(lo);
    }
}

// In place, for i < t_ptr[cols] (the entries of the range; the sentinels sort after them): t_idx[i] holds the
// sorted entry k and becomes its row r (row_ptr[r] <= row_ptr[0] + k < row_ptr[r + 1], the last such r: empty rows
// are skipped); t_values[i] = values[row_ptr[0] + k].
__global__ void gather_entries(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr, const float* __restrict__ values,
                               const int32_t* __restrict__ t_ptr, int64_t n, int32_t* __restrict__ t_idx, float* __restrict__ t_values) {
    const int64_t base = row_ptr[0], nnz = t_ptr[cols];
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n && i < nnz; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t a = base + t_idx[i];
        int64_t lo = 0, hi = rows + 1;  // upper bound of a in row_ptr
        while (lo < hi) {
            const int64_t mid = (lo + hi) / 2;
            if (row_ptr[mid] <= a) lo = mid + 1;
            else hi = mid;
        }
        t_idx[i] = static_cast<int32_t>(lo - 1);
        t_values[i] = values[a];
    }
}

// The CPU reference's message for the first offence (error path only: reads what it names from the device).
int report_offence(const char* fn, int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, int64_t n,
                   unsigned long long key) {
    std::vector<int32_t> rp(static_cast<size_t>(rows + 1));
    QFT_CUDA_CHECK(cudaMemcpyAsync(rp.data(), row_ptr, rp.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, qft::stream()));
    QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    if (key == kNegativeStart)
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): row_ptr[0] = %d is negative", fn, (long long)rows, (long long)cols, rp[0]);
    if (key < static_cast<unsigned long long>(rows)) {
        const int64_t r = static_cast<int64_t>(key);
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): row_ptr decreases at row %lld (%d -> %d)", fn, (long long)rows,
                             (long long)cols, (long long)r, rp[r], rp[r + 1]);
    }
    if (key == kOverBound)
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): the range holds %lld entries, more than nnz_bound %lld", fn,
                             (long long)rows, (long long)cols, (long long)rp[rows] - rp[0], (long long)n);
    const int64_t j = rp[0] + static_cast<int64_t>(key) - rows;
    int32_t c = 0;
    QFT_CUDA_CHECK(cudaMemcpyAsync(&c, col_idx + j, sizeof c, cudaMemcpyDeviceToHost, qft::stream()));
    QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    const int64_t r = std::upper_bound(rp.begin(), rp.end(), j) - rp.begin() - 1;
    return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): col_idx[%lld] = %d (row %lld of the range) is outside [0, %lld)", fn,
                         (long long)rows, (long long)cols, (long long)j, c, (long long)r, (long long)cols);
}

size_t round256(size_t n) { return (n + 255) / 256 * 256; }

int sparse_transpose_cuda(const char* fn, int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                          int64_t values, int64_t t_ptr, int64_t t_idx, int64_t t_values, int64_t nnz_bound, int64_t bad) {
    cudaStream_t st = qft::stream();
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const int32_t* rp = qft::ptr<const int32_t>(row_ptr);
    const int32_t* ci = qft::ptr<const int32_t>(col_idx);
    int64_t n = nnz_bound;  // the sort's length, which CUB takes on the host: the caller's bound, or the range's nnz
    if (n == 0) {
        int32_t ends[2] = {0, 0};
        QFT_CUDA_CHECK(cudaMemcpyAsync(&ends[0], rp, sizeof(int32_t), cudaMemcpyDeviceToHost, st));
        QFT_CUDA_CHECK(cudaMemcpyAsync(&ends[1], rp + rows, sizeof(int32_t), cudaMemcpyDeviceToHost, st));
        QFT_CUDA_CHECK(cudaStreamSynchronize(st));
        n = std::max<int64_t>(0, static_cast<int64_t>(ends[1]) - std::max(0, ends[0]));
    }
    if (n > INT32_MAX) return qft_set_error(QFT_EUNSUPPORTED, "%s: %lld entries exceed the int32 index range", fn, (long long)n);
    int bits = 1;  // the sort looks at the keys' bits [0, bits): 2^bits > cols, the sentinel
    while (bits < 32 && (int64_t{1} << bits) <= cols) ++bits;

    uint32_t* keys_in = nullptr;  // (n) keys of make_keys, then (n) sorted
    uint32_t* keys = nullptr;
    int32_t* payload_in = qft::ptr<int32_t>(t_values);  // the outputs hold the payloads until the gather
    int32_t* sorted = qft::ptr<int32_t>(t_idx);
    size_t temp_bytes = 0;
    if (n > 0)
        QFT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys, payload_in, sorted, static_cast<int>(n), 0,
                                                       bits, st));
    const size_t keys_bytes = round256(static_cast<size_t>(n) * sizeof(uint32_t));
    const size_t in_at = 256, out_at = in_at + keys_bytes, temp_at = out_at + keys_bytes;
    qft::StreamScratch scratch;
    QFT_CUDA_CHECK(cudaMallocAsync(&scratch.p, temp_at + temp_bytes, st));
    char* s = static_cast<char*>(scratch.p);
    auto* offence = reinterpret_cast<unsigned long long*>(s);
    keys_in = reinterpret_cast<uint32_t*>(s + in_at);
    keys = reinterpret_cast<uint32_t*>(s + out_at);
    QFT_CUDA_CHECK(cudaMemsetAsync(offence, 0xff, sizeof *offence, st));

    unsigned blocks = 0;
    if (int rc = qft::grid_per_sm(device, kThreads, rows + n, &blocks)) return rc;
    make_keys<<<blocks, kThreads, 0, st>>>(rows, cols, rp, ci, n, keys_in, payload_in, offence);
    QFT_LAUNCH_CHECK("make_keys");
    if (n > 0)
        QFT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(s + temp_at, temp_bytes, keys_in, keys, payload_in, sorted, static_cast<int>(n), 0,
                                                       bits, st));
    if (int rc = qft::grid_per_sm(device, kThreads, cols + 1, &blocks)) return rc;
    rows_of_transpose<<<blocks, kThreads, 0, st>>>(cols, keys, n, qft::ptr<int32_t>(t_ptr));
    QFT_LAUNCH_CHECK("rows_of_transpose");
    if (n > 0) {
        if (int rc = qft::grid_per_sm(device, kThreads, n, &blocks)) return rc;
        gather_entries<<<blocks, kThreads, 0, st>>>(rows, cols, rp, qft::ptr<const float>(values), qft::ptr<const int32_t>(t_ptr), n,
                                                    sorted, qft::ptr<float>(t_values));
        QFT_LAUNCH_CHECK("gather_entries");
    }
    if (bad) {
        count_offence<<<1, 1, 0, st>>>(offence, qft::ptr<int>(bad));
        QFT_LAUNCH_CHECK("count_offence");
        return QFT_OK;
    }
    unsigned long long first = kNoOffence;
    QFT_CUDA_CHECK(cudaMemcpyAsync(&first, offence, sizeof first, cudaMemcpyDeviceToHost, st));
    QFT_CUDA_CHECK(cudaStreamSynchronize(st));
    if (first != kNoOffence) return report_offence(fn, rows, cols, rp, ci, n, first);
    return QFT_OK;
}

}  // namespace

extern "C" QFT_API int qft_cuda_hybrid_sparse_transpose(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr,
                                                        int64_t col_idx, int64_t values, int64_t t_ptr, int64_t t_idx,
                                                        int64_t t_values, int64_t nnz_bound, int64_t bad) {
    const char* fn = "qft_hybrid_sparse_transpose";
    return qft::guarded(fn, [&] {
        return sparse_transpose_cuda(fn, device, rows, cols, row_ptr, col_idx, values, t_ptr, t_idx, t_values, nnz_bound, bad);
    });
}
