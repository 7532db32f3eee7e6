#include "runtime/ThreadPool.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace granite::runtime {
namespace {

/// How long an idle worker spins before it sleeps: longer than the gap between two kernels of a forward pass (or
/// between two decoded tokens), far shorter than a human's turn in a chat.
constexpr auto kSpinTime = std::chrono::milliseconds(2);
/// Spins between two yields of the processor, so a spinning thread gives way to any other runnable thread.
constexpr unsigned kSpinsPerYield = 256;

constexpr uint64_t kClosed = 0xffffffffu;
uint64_t generationOf(uint64_t word) { return word >> 32; }
uint64_t indexOf(uint64_t word) { return word & 0xffffffffu; }

/// Set while this thread runs a task: a loop started from there runs inline.
thread_local bool insideTask = false;

void pause() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// One step of a busy wait: a pause, and now and then a yield.
void spin(unsigned &spins) {
  pause();
  if (++spins % kSpinsPerYield == 0) std::this_thread::yield();
}

} // namespace

ThreadPool::ThreadPool(int threads) : claim_(kClosed) {
  const int workers = threads > 1 ? threads - 1 : 0;
  workers_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleepMutex_);
    stopping_.store(true);
    wake_.notify_all();
  }
  for (std::thread &worker : workers_) worker.join();
}

void ThreadPool::runIndices() {
  uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (indexOf(word) == kClosed) return;
    // extent_ belongs to word's loop whenever the exchange below succeeds: it changes only after that loop closes.
    if (indexOf(word) >= static_cast<uint64_t>(extent_.load(std::memory_order_acquire))) return;
    if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    insideTask = true;
    int result = loop_.task(loop_.context, loop_.min + static_cast<int>(indexOf(word)), loop_.closure);
    insideTask = false;
    if (result != 0) {
      int none = 0;
      error_.compare_exchange_strong(none, result);
    }
    finished_.fetch_add(1, std::memory_order_release);
    word = claim_.load(std::memory_order_acquire);
  }
}

int ThreadPool::parallelFor(void *context, GraniteTask task, int min, int extent, uint8_t *closure) {
  if (insideTask || workers_.empty() || extent <= 1) {
    for (int i = 0; i < extent; ++i)
      if (int result = task(context, min + i, closure)) return result;
    return 0;
  }
  std::lock_guard<std::mutex> caller(callerMutex_);
  const uint64_t generation = generationOf(claim_.load(std::memory_order_relaxed)) + 1;
  loop_ = {context, task, min, closure};
  extent_.store(extent, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  error_.store(0, std::memory_order_relaxed);
  claim_.store(generation << 32); // seq_cst: publishes the loop, and pairs with a worker's sleepers_ increment
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(sleepMutex_);
    wake_.notify_all();
  }
  runIndices();
  for (unsigned spins = 0; finished_.load(std::memory_order_acquire) < extent;) spin(spins);
  claim_.store(generation << 32 | kClosed);
  return error_.load(std::memory_order_relaxed);
}

void ThreadPool::work() {
  using Clock = std::chrono::steady_clock;
  uint64_t done = 0; // the last generation this worker took part in
  auto open = [&](uint64_t word) { return indexOf(word) != kClosed && generationOf(word) != done; };
  for (;;) {
    uint64_t word = claim_.load(std::memory_order_acquire);
    const auto idleSince = Clock::now();
    for (unsigned spins = 0; !open(word); word = claim_.load(std::memory_order_acquire)) {
      if (stopping_.load(std::memory_order_relaxed)) return;
      spin(spins);
      if (spins % 1024 == 0 && Clock::now() - idleSince > kSpinTime) {
        std::unique_lock<std::mutex> lock(sleepMutex_);
        sleepers_.fetch_add(1); // seq_cst, then re-read: the caller either sees a sleeper or we see its loop
        while (!open(word = claim_.load()) && !stopping_.load()) wake_.wait(lock);
        sleepers_.fetch_sub(1);
      }
    }
    done = generationOf(word);
    runIndices();
  }
}

} // namespace granite::runtime
