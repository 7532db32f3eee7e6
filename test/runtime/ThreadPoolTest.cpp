// The runtime's thread pool: every index runs once, results and errors come back, nested loops run inline, and
// workers that fell asleep wake up for the next loop.
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace granite::runtime {
namespace {

struct Counts {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  explicit Counts(int n) : hits(n) {}
};

int countIndex(void *, int index, uint8_t *closure) {
  auto &counts = *reinterpret_cast<Counts *>(closure);
  counts.hits[index].fetch_add(1);
  std::this_thread::sleep_for(std::chrono::microseconds(50)); // long enough for every thread to take some
  std::lock_guard<std::mutex> lock(counts.mutex);
  counts.threads.insert(std::this_thread::get_id());
  return 0;
}

void expectEachOnce(const Counts &counts) {
  for (size_t i = 0; i < counts.hits.size(); ++i) EXPECT_EQ(counts.hits[i].load(), 1) << "index " << i;
}

TEST(ThreadPool, RunsEveryIndexOnceOnAllThreads) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.threads(), 3);
  for (int loop = 0; loop < 200; ++loop) {
    Counts counts(64);
    ASSERT_EQ(pool.parallelFor(nullptr, countIndex, 0, 64, reinterpret_cast<uint8_t *>(&counts)), 0);
    expectEachOnce(counts);
    if (loop == 0) EXPECT_EQ(counts.threads.size(), 3u);
  }
}

TEST(ThreadPool, PassesMinAndContext) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> seen(10);
  int context = 0;
  auto task = [](void *user, int index, uint8_t *closure) {
    if (*static_cast<int *>(user) != 0) return 99;
    reinterpret_cast<std::atomic<int> *>(closure)[index - 5].fetch_add(1);
    return 0;
  };
  ASSERT_EQ(pool.parallelFor(&context, task, 5, 10, reinterpret_cast<uint8_t *>(seen.data())), 0);
  for (auto &s : seen) EXPECT_EQ(s.load(), 1);
}

TEST(ThreadPool, ReturnsATaskError) {
  ThreadPool pool(2);
  auto task = [](void *, int index, uint8_t *) { return index == 37 ? -7 : 0; };
  EXPECT_EQ(pool.parallelFor(nullptr, task, 0, 100, nullptr), -7);
  auto fine = [](void *, int, uint8_t *) { return 0; };
  EXPECT_EQ(pool.parallelFor(nullptr, fine, 0, 100, nullptr), 0); // the error does not stick
}

TEST(ThreadPool, RunsANestedLoopInline) {
  ThreadPool pool(2);
  struct Shared {
    ThreadPool *pool;
    std::atomic<int> inner{0};
  } shared{&pool};
  auto outer = [](void *context, int, uint8_t *closure) {
    auto *s = reinterpret_cast<Shared *>(closure);
    auto inner = [](void *, int, uint8_t *innerClosure) {
      reinterpret_cast<Shared *>(innerClosure)->inner.fetch_add(1);
      return 0;
    };
    return s->pool->parallelFor(context, inner, 0, 5, closure);
  };
  ASSERT_EQ(pool.parallelFor(nullptr, outer, 0, 8, reinterpret_cast<uint8_t *>(&shared)), 0);
  EXPECT_EQ(shared.inner.load(), 40);
}

TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int loop = 0; loop < 3; ++loop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // past the spin time: the worker sleeps
    Counts counts(32);
    ASSERT_EQ(pool.parallelFor(nullptr, countIndex, 0, 32, reinterpret_cast<uint8_t *>(&counts)), 0);
    expectEachOnce(counts);
    EXPECT_EQ(counts.threads.size(), 2u);
  }
}

TEST(ThreadPool, OneThreadRunsOnTheCaller) {
  ThreadPool pool(1);
  Counts counts(16);
  ASSERT_EQ(pool.parallelFor(nullptr, countIndex, 0, 16, reinterpret_cast<uint8_t *>(&counts)), 0);
  expectEachOnce(counts);
  EXPECT_EQ(counts.threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

} // namespace
} // namespace granite::runtime
