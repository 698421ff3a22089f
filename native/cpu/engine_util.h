// Small helpers shared by the LLaMA engine's CPU ops (embedding, rmsnorm, attention, ...).
#pragma once

#include <algorithm>
#include <cstdint>

namespace qft {

// parallel_for grain for items that cost `work` multiply-adds each: chunks of at least ~32K, so that
// small problems run inline instead of paying for a hand-off to the pool.
inline int64_t grain_for(int64_t work) { return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, work)); }

}  // namespace qft

namespace qft {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace qft
