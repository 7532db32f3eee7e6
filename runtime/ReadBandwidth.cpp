#include "runtime/ReadBandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

namespace granite::runtime {
namespace {

// 32-byte vectors (GCC/Clang vector extension): one AVX load where the build targets AVX, two SSE2 loads
// otherwise; either way a single core keeps far more bytes in flight than DRAM delivers, so the loads are not the
// limit.
typedef uint64_t Vec __attribute__((vector_size(32), aligned(32)));
constexpr size_t kBlock = 8 * sizeof(Vec); // 256 bytes: one step of the eight accumulators

uint64_t sumSlice(const Vec *data, size_t blocks) {
  Vec a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {};
  for (size_t i = 0; i < blocks; ++i, data += 8) {
    a0 += data[0];
    a1 += data[1];
    a2 += data[2];
    a3 += data[3];
    a4 += data[4];
    a5 += data[5];
    a6 += data[6];
    a7 += data[7];
  }
  Vec s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  return s[0] + s[1] + s[2] + s[3];
}

struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};

} // namespace

ReadBandwidthResult measureReadBandwidth(int threads, size_t bytes, int repeats) {
  threads = std::max(1, threads);
  repeats = std::max(1, repeats);
  const size_t blocks = bytes / kBlock;
  bytes = blocks * kBlock;
  std::unique_ptr<void, FreeDeleter> buffer(std::aligned_alloc(4096, std::max<size_t>(bytes, 4096)));
  if (!buffer) throw std::bad_alloc();
  // Written once, with a non-zero pattern, so every page is really backed (not the shared zero page).
  std::memset(buffer.get(), 0x5a, bytes);
  const Vec *data = static_cast<const Vec *>(buffer.get());

  ReadBandwidthResult result;
  result.bytes = bytes;
  result.threads = threads;
  result.repeats = repeats;
  // Each slice's sum goes into an atomic, which the optimizer does not remove, so neither are the reads.
  std::atomic<uint64_t> sink{0};
  using Clock = std::chrono::steady_clock;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    std::atomic<bool> go{false};
    std::atomic<int> ready{0};
    std::vector<std::thread> workers;
    workers.reserve(threads);
    for (int t = 0; t < threads; ++t) {
      const size_t first = blocks * t / threads, last = blocks * (t + 1) / threads;
      workers.emplace_back([&, first, last] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        sink.fetch_add(sumSlice(data + first * 8, last - first), std::memory_order_relaxed);
      });
    }
    while (ready.load() < threads) std::this_thread::yield();
    auto start = Clock::now();
    go.store(true, std::memory_order_release);
    for (std::thread &worker : workers) worker.join();
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (seconds > 0) result.bytesPerSecond = std::max(result.bytesPerSecond, static_cast<double>(bytes) / seconds);
  }
  return result;
}

} // namespace granite::runtime
