// The worker threads that run the kernels' parallel loops (installed through granite_set_parallel_for).
//
// A forward pass calls a few hundred kernels per token, each a parallel loop of some tens of microseconds. Waking
// sleeping threads for each of them (a futex round trip, an inter-processor interrupt under a hypervisor) costs as
// much as the loop itself, so idle workers spin on the next loop for a while before they sleep, as llama.cpp's do.
#pragma once

#include "runtime/ModelAbi.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace granite::runtime {

class ThreadPool {
public:
  /// `threads` counts the calling thread: 1 runs every loop on the caller.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs task(context, i, closure) for i in [min, min + extent) on the caller and the workers; returns 0 or the
  /// first nonzero task result. A loop started from inside a task runs on that task's thread.
  int parallelFor(void *context, GraniteTask task, int min, int extent, uint8_t *closure);

private:
  struct Loop {
    void *context;
    GraniteTask task;
    int min;
    uint8_t *closure;
  };

  void work();
  /// Claims and runs indices of the open loop until none is left.
  void runIndices();

  // claim_ holds the loop's generation (high half) and its next unclaimed index (low half), or kClosed once every
  // index has run. A thread claims an index with a compare-and-swap on the whole word, so a thread still holding
  // an older word can never claim in a newer loop; and loop_ and extent_ change only while the word is closed,
  // that is, when no index is claimed and unfinished. A late worker therefore holds up only a loop it has claimed
  // an index of.
  std::vector<std::thread> workers_;
  Loop loop_{};
  std::atomic<int> extent_{0};
  std::atomic<uint64_t> claim_;
  std::atomic<int> finished_{0};
  std::atomic<int> error_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::mutex sleepMutex_;
  std::condition_variable wake_;
  std::mutex callerMutex_; ///< one loop at a time when several threads call in
};

} // namespace granite::runtime
