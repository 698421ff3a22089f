#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qft {
namespace {

// One job at a time: callers serialise on `submit_`; a caller that arrives while the pool is busy
// (e.g. two trainers on two Java threads) runs its loop inline instead of waiting.
class Pool {
public:
    explicit Pool(int n) { start(n); }
    ~Pool() { stop(); }

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    void resize(int n) {
        std::lock_guard<std::mutex> submit(submit_);
        stop();
        start(n);
    }

    void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
        int64_t chunks = std::min<int64_t>(size(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
        std::unique_lock<std::mutex> submit(submit_, std::try_to_lock);
        if (chunks <= 1 || !submit.owns_lock()) {
            fn(0, n);
            return;
        }
        {
            std::lock_guard<std::mutex> lk(m_);
            fn_ = &fn;
            n_ = n;
            chunks_ = chunks;
            next_ = 1;
            pending_ = chunks - 1;
            error_ = nullptr;
        }
        cv_.notify_all();
        std::exception_ptr mine;
        try {
            fn(0, begin_of(1));
        } catch (...) {
            mine = std::current_exception();
        }
        std::unique_lock<std::mutex> lk(m_);
        done_.wait(lk, [&] { return pending_ == 0; });
        fn_ = nullptr;
        if (mine) std::rethrow_exception(mine);
        if (error_) std::rethrow_exception(error_);
    }

private:
    int64_t begin_of(int64_t c) const { return n_ * c / chunks_; }

    void start(int n) {
        quit_ = false;
        for (int i = 1; i < std::max(1, n); ++i) workers_.emplace_back([this] { loop(); });
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lk(m_);
            quit_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
    }

    // A chunk is claimed under the same lock that publishes fn_, so a worker can never pair a
    // chunk of one job with the function of another.
    void loop() {
        std::unique_lock<std::mutex> lk(m_);
        for (;;) {
            cv_.wait(lk, [&] { return quit_ || (fn_ != nullptr && next_ < chunks_); });
            if (quit_) return;
            const auto* fn = fn_;
            int64_t c = next_++;
            lk.unlock();
            std::exception_ptr err;
            try {
                (*fn)(begin_of(c), begin_of(c + 1));
            } catch (...) {
                err = std::current_exception();
            }
            lk.lock();
            if (err && !error_) error_ = err;
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex submit_, m_;
    std::condition_variable cv_, done_;
    const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
    int64_t n_ = 0, chunks_ = 0, pending_ = 0;
    int64_t next_ = 0;
    bool quit_ = false;
    std::exception_ptr error_;
};

Pool& pool() {
    static Pool p(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    return p;
}

}  // namespace

int cpu_threads() { return pool().size(); }
void set_cpu_threads(int threads) { pool().resize(threads); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    pool().run(n, grain, fn);
}

}  // namespace qft
