// The packed b-bit layout of native/include/qft4j/peqa.h, shared by the CPU library and the CUDA
// kernels so that both read codes the same way.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define QFT_HD __host__ __device__ __forceinline__
#else
#define QFT_HD inline
#endif

namespace qft {

struct PeqaLayout {
    int64_t rows, cols;
    int64_t group;   // columns per group (the last group may be shorter)
    int64_t groups;  // ceil(cols / group)
    int64_t words;   // uint32 words per packed row
    int32_t bits;    // 3 or 4
    int32_t cpw;     // codes per word: 32 / bits
    uint32_t mask;   // 2^bits - 1
};

QFT_HD int64_t peqa_words_per_row(int32_t bits, int64_t cols) {
    if (bits != 3 && bits != 4) return -1;
    int64_t cpw = 32 / bits;
    return (cols + cpw - 1) / cpw;
}

// bits 3 or 4, rows/cols >= 0, group_size >= 1 (a group larger than cols means one group per row).
QFT_HD PeqaLayout peqa_layout(int64_t rows, int64_t cols, int32_t bits, int64_t group_size) {
    PeqaLayout l;
    l.rows = rows;
    l.cols = cols;
    l.group = group_size < cols ? group_size : (cols > 0 ? cols : 1);
    l.groups = (cols + l.group - 1) / l.group;
    l.bits = bits;
    l.cpw = 32 / bits;
    l.words = peqa_words_per_row(bits, cols);
    l.mask = (1u << bits) - 1u;
    return l;
}

QFT_HD uint32_t peqa_code(const uint32_t* row_words, const PeqaLayout& l, int64_t c) {
    return (row_words[c / l.cpw] >> (l.bits * (c % l.cpw))) & l.mask;
}

}  // namespace qft
