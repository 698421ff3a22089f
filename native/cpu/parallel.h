// A persistent worker pool for the CPU backend: qft::parallel_for splits [0, n) into contiguous
// chunks, one per worker, and blocks until all are done. Kept tiny and dependency-free (no
// OpenMP) so that the jar needs nothing beyond libc/libstdc++ on the user's machine.
#pragma once

#include <cstdint>
#include <functional>

namespace qft {

int cpu_threads();
void set_cpu_threads(int threads);

// fn(begin, end) is called on disjoint ranges covering [0, n). Ranges are at least `grain` long,
// so small problems run inline on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace qft
