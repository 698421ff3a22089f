// The emulator's stand-in for cub::DeviceRadixSort::SortPairs (tests/emu/README.md): a stable sort of the pairs by
// the key bits [begin_bit, end_bit), which is what CUB's LSD radix sort returns (stable, documented). CUB's own
// kernels are not emulated; the kernels around the sort are.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "../../cuda_runtime.h"

namespace cub {

struct DeviceRadixSort {
    template <class K, class V>
    static cudaError_t SortPairs(void* temp, size_t& temp_bytes, const K* keys_in, K* keys_out, const V* values_in, V* values_out, int n,
                                 int begin_bit = 0, int end_bit = sizeof(K) * 8, cudaStream_t = nullptr, bool = false) {
        if (temp == nullptr) {
            temp_bytes = 256;  // CUB asks for scratch; the emulator only checks that it is passed back
            return cudaSuccess;
        }
        const K mask = end_bit - begin_bit >= (int)sizeof(K) * 8 ? ~K(0) : (K)(((K(1) << (end_bit - begin_bit)) - 1) << begin_bit);
        std::vector<int> order(n);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return (keys_in[a] & mask) < (keys_in[b] & mask); });
        std::vector<K> k(n);
        std::vector<V> v(n);
        for (int i = 0; i < n; ++i) k[i] = keys_in[order[i]], v[i] = values_in[order[i]];
        std::copy(k.begin(), k.end(), keys_out);
        std::copy(v.begin(), v.end(), values_out);
        return cudaSuccess;
    }
};

}  // namespace cub
