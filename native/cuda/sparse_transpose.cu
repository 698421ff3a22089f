// S^T of a CSR row range on the GPU (hybrid_weight.h, qft_hybrid_sparse_transpose); CPU reference:
// native/cpu/sparse_transpose.cpp (a stable counting sort by column).
// The result is THE stable sort of the range's entries by column, which is unique, so any stable sort
// returns it bit for bit. cub::DeviceRadixSort is stable (documented) and its output depends on no atomic
// ordering, so it is used as is rather than a hand-written counting sort:
//   1. check_and_iota: every row_ptr step and every column is checked (the first offence is kept with an
//      atomicMin, whose result does not depend on order); the sort payload 0..nnz-1 is written;
//   2. (column, entry) pairs are radix-sorted on the column's low ceil(log2(cols)) bits;
//   3. t_ptr[c] = number of sorted columns below c (binary search, one thread per output row);
//   4. t_idx[i] = the row holding entry i of the sort (binary search in row_ptr), t_values[i] = its value.
// The payload arrays of the sort live in the outputs (t_values holds the input entries' indices as int32
// bits, t_idx receives the sorted ones), so the scratch is the sorted columns and CUB's temporary storage.
// Bad input never leads to an out-of-bounds access: the payload is a permutation of 0..nnz-1 and every
// binary search stays inside its array; the verdict is read back after the kernels and returned.
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <vector>

#include "check.cuh"

namespace {

constexpr int kThreads = 256;
constexpr unsigned long long kNoOffence = ~0ull;

// Device scratch of one call, freed on every return path.
struct Scratch {
    void* p = nullptr;
    ~Scratch() {
        if (p) cudaFreeAsync(p, qft::stream());
    }
};

int grid_for(int device, int64_t n, unsigned* blocks) {
    int sms = 0;
    QFT_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    *blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(qft::ceil_div(n, kThreads), 8LL * sms)));
    return QFT_OK;
}

// Items [0, rows) check row_ptr[r] <= row_ptr[r + 1] (offence key r); items rows + j check the column of
// entry base + j (offence key rows + j) and write payload[j] = j. The smallest key is the first offence in
// the order the CPU reference checks.
__global__ void check_and_iota(int64_t rows, int64_t cols, const int32_t* __restrict__ row_ptr,
                               const int32_t* __restrict__ col_idx, int64_t base, int64_t nnz, int32_t* __restrict__ payload,
                               unsigned long long* __restrict__ offence) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows + nnz; i += (int64_t)gridDim.x * blockDim.x) {
        if (i < rows) {
            if (row_ptr[i + 1] < row_ptr[i]) atomicMin(offence, static_cast<unsigned long long>(i));
        } else {
            const int64_t j = i - rows;
            payload[j] = static_cast<int32_t>(j);
            const int32_t c = col_idx[base + j];
            if (c < 0 || c >= cols) atomicMin(offence, static_cast<unsigned long long>(i));
        }
    }
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

// In place: t_idx[i] holds the sorted entry j (relative to base) and becomes its row r (row_ptr[r] <= base + j
// < row_ptr[r + 1], the last such r: empty rows are skipped); t_values[i] = values[base + j].
__global__ void gather_entries(int64_t rows, const int32_t* __restrict__ row_ptr, const float* __restrict__ values,
                               int64_t base, int64_t nnz, int32_t* __restrict__ t_idx, float* __restrict__ t_values) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nnz; i += (int64_t)gridDim.x * blockDim.x) {
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
int report_offence(const char* fn, int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, int64_t base,
                   unsigned long long key) {
    std::vector<int32_t> rp(static_cast<size_t>(rows + 1));
    QFT_CUDA_CHECK(cudaMemcpyAsync(rp.data(), row_ptr, rp.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, qft::stream()));
    int32_t c = 0;
    const int64_t j = base + static_cast<int64_t>(key) - rows;
    if (static_cast<int64_t>(key) >= rows)
        QFT_CUDA_CHECK(cudaMemcpyAsync(&c, col_idx + j, sizeof c, cudaMemcpyDeviceToHost, qft::stream()));
    QFT_CUDA_CHECK(cudaStreamSynchronize(qft::stream()));
    if (static_cast<int64_t>(key) < rows) {
        const int64_t r = static_cast<int64_t>(key);
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): row_ptr decreases at row %lld (%d -> %d)", fn, (long long)rows,
                             (long long)cols, (long long)r, rp[r], rp[r + 1]);
    }
    const int64_t r = std::upper_bound(rp.begin(), rp.end(), j) - rp.begin() - 1;
    return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): col_idx[%lld] = %d (row %lld of the range) is outside [0, %lld)", fn,
                         (long long)rows, (long long)cols, (long long)j, c, (long long)r, (long long)cols);
}

size_t round256(size_t n) { return (n + 255) / 256 * 256; }

int sparse_transpose_cuda(const char* fn, int32_t device, int64_t rows, int64_t cols, int64_t row_ptr, int64_t col_idx,
                          int64_t values, int64_t t_ptr, int64_t t_idx, int64_t t_values) {
    cudaStream_t st = qft::stream();
    QFT_CUDA_CHECK(cudaSetDevice(device));
    const int32_t* rp = qft::ptr<const int32_t>(row_ptr);
    const int32_t* ci = qft::ptr<const int32_t>(col_idx);
    int32_t ends[2] = {0, 0};  // row_ptr[0], row_ptr[rows]: nnz sizes the sort, which CUB takes on the host
    QFT_CUDA_CHECK(cudaMemcpyAsync(&ends[0], rp, sizeof(int32_t), cudaMemcpyDeviceToHost, st));
    QFT_CUDA_CHECK(cudaMemcpyAsync(&ends[1], rp + rows, sizeof(int32_t), cudaMemcpyDeviceToHost, st));
    QFT_CUDA_CHECK(cudaStreamSynchronize(st));
    if (ends[0] < 0)
        return qft_set_error(QFT_EINVAL, "%s: CSR (%lld, %lld): row_ptr[0] = %d is negative", fn, (long long)rows,
                             (long long)cols, ends[0]);
    const int64_t base = ends[0];
    // A decreasing row_ptr is found by the row checks below; its entries are then not sorted.
    const int64_t nnz = std::max<int64_t>(0, static_cast<int64_t>(ends[1]) - base);
    const bool sort = nnz > 0 && cols > 0;
    int bits = 1;  // the sort looks at the columns' bits [0, bits): 2^bits >= cols
    while (bits < 31 && (int64_t{1} << bits) < cols) ++bits;

    uint32_t* keys = nullptr;  // (nnz) sorted columns
    const uint32_t* keys_in = reinterpret_cast<const uint32_t*>(ci + base);
    int32_t* payload_in = qft::ptr<int32_t>(t_values);
    int32_t* sorted = qft::ptr<int32_t>(t_idx);
    size_t temp_bytes = 0;
    if (sort)
        QFT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys, payload_in, sorted,
                                                       static_cast<int>(nnz), 0, bits, st));
    const size_t keys_at = 256, temp_at = keys_at + round256(static_cast<size_t>(nnz) * sizeof(uint32_t));
    Scratch scratch;
    QFT_CUDA_CHECK(cudaMallocAsync(&scratch.p, temp_at + temp_bytes, st));
    char* s = static_cast<char*>(scratch.p);
    auto* offence = reinterpret_cast<unsigned long long*>(s);
    keys = reinterpret_cast<uint32_t*>(s + keys_at);
    QFT_CUDA_CHECK(cudaMemsetAsync(offence, 0xff, sizeof *offence, st));

    unsigned blocks = 0;
    if (rows + nnz > 0) {
        if (int rc = grid_for(device, rows + nnz, &blocks)) return rc;
        check_and_iota<<<blocks, kThreads, 0, st>>>(rows, cols, rp, ci, base, nnz, payload_in, offence);
        QFT_LAUNCH_CHECK("check_and_iota");
    }
    if (sort)
        QFT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(s + temp_at, temp_bytes, keys_in, keys, payload_in, sorted,
                                                       static_cast<int>(nnz), 0, bits, st));
    if (int rc = grid_for(device, cols + 1, &blocks)) return rc;
    rows_of_transpose<<<blocks, kThreads, 0, st>>>(cols, keys, sort ? nnz : 0, qft::ptr<int32_t>(t_ptr));
    QFT_LAUNCH_CHECK("rows_of_transpose");
    if (sort) {
        if (int rc = grid_for(device, nnz, &blocks)) return rc;
        gather_entries<<<blocks, kThreads, 0, st>>>(rows, rp, qft::ptr<const float>(values), base, nnz, sorted,
                                                    qft::ptr<float>(t_values));
        QFT_LAUNCH_CHECK("gather_entries");
    }
    unsigned long long first = kNoOffence;
    QFT_CUDA_CHECK(cudaMemcpyAsync(&first, offence, sizeof first, cudaMemcpyDeviceToHost, st));
    QFT_CUDA_CHECK(cudaStreamSynchronize(st));
    if (first != kNoOffence) return report_offence(fn, rows, cols, rp, ci, base, first);
    return QFT_OK;
}

}  // namespace

extern "C" QFT_API int qft_cuda_hybrid_sparse_transpose(int32_t device, int64_t rows, int64_t cols, int64_t row_ptr,
                                                        int64_t col_idx, int64_t values, int64_t t_ptr, int64_t t_idx,
                                                        int64_t t_values) {
    const char* fn = "qft_hybrid_sparse_transpose";
    return qft::guarded(fn, [&] {
        return sparse_transpose_cuda(fn, device, rows, cols, row_ptr, col_idx, values, t_ptr, t_idx, t_values);
    });
}
