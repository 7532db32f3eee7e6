#include "runtime/WeightMemory.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace granite::runtime {
namespace {

constexpr uint64_t kHugePage = uint64_t{2} << 20;
/// The copy's step: a stop at exit waits for one step at most.
constexpr uint64_t kCopyPiece = uint64_t{2} << 20;

/// True unless the kernel's transparent huge pages are off ("[never]" or no such file).
bool hugePagesAvailable() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  return std::getline(file, setting) && setting.find("[never]") == std::string::npos;
}

/// Reads one byte of every page of [data, data + size), which maps the pages into this process; false when `stopping`
/// was set first.
bool faultIn(const uint8_t *data, uint64_t size, const std::atomic<bool> &stopping) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (uint64_t offset = 0; offset < size; offset += page) {
    if (offset % kCopyPiece == 0 && stopping.load(std::memory_order_relaxed)) return false;
    static_cast<void>(*static_cast<const volatile uint8_t *>(data + offset));
  }
  return true;
}

/// Drops this process's pages of the whole pages inside [data, data + size): they leave the resident set, and a file
/// mapping reads them from the page cache again if they are touched after all.
void releasePages(const uint8_t *data, uint64_t size) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (start + page - 1) & ~(page - 1), last = (start + size) & ~(page - 1);
  if (last > first) madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
}

} // namespace

/// The copy and the thread that makes it. data() readers load current_; the thread stores it once, after the last
/// byte (release, paired with their acquire).
class WeightMemory::BackgroundCopy {
public:
  /// Takes `mapping` over once constructed; throws std::system_error when the thread cannot start.
  BackgroundCopy(PayloadBytes source, void *mapping, uint64_t mappingBytes, uint8_t *target,
                 std::function<void()> beforeSwitch)
      : source_(source), mapping_(mapping), mappingBytes_(mappingBytes), target_(target),
        beforeSwitch_(std::move(beforeSwitch)), current_(source.data), thread_([this] { run(); }) {}

  ~BackgroundCopy() {
    stopping_.store(true, std::memory_order_relaxed);
    thread_.join();
    munmap(mapping_, mappingBytes_);
  }

  const uint8_t *current() const { return current_.load(std::memory_order_acquire); }
  bool copied() const { return current() == target_; }

  void wait() const {
    std::unique_lock<std::mutex> lock(mutex_);
    finishedChanged_.wait(lock, [&] { return finished_; });
  }

  std::optional<Clock::time_point> copiedAt() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return copiedAt_;
  }

private:
  void run() {
    // Nice 19 (on Linux, for this thread alone): the copy runs on what the forward calls leave of the cores, so it
    // hardly slows the first tokens, which read the mapping meanwhile. Not SCHED_IDLE, which gets no time at all
    // while other processes keep the cores busy, so the copy might never complete. Advice only.
    setpriority(PRIO_PROCESS, 0, 19);
    // The forward calls read the source until the copy takes over. Mapping its pages costs more than reading them
    // (0.25-0.35 s for h-350m's 4 KiB pages on the 2-core test VM), so that comes first, on a core the start-up
    // leaves idle (the tokenizer is built on one).
    if (!faultIn(source_.data, source_.size, stopping_)) return finish(std::nullopt);
    for (uint64_t begin = 0; begin < source_.size; begin += kCopyPiece) {
      if (stopping_.load(std::memory_order_relaxed)) return finish(std::nullopt);
      std::memcpy(target_ + begin, source_.data + begin, std::min(kCopyPiece, source_.size - begin));
    }
    if (beforeSwitch_) beforeSwitch_();
    current_.store(target_, std::memory_order_release);
    // A forward call that loaded the source before the switch may still read it: it faults the pages in again.
    releasePages(source_.data, source_.size);
    finish(Clock::now());
  }

  void finish(std::optional<Clock::time_point> copiedAt) {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    copiedAt_ = copiedAt;
    finishedChanged_.notify_all();
  }

  const PayloadBytes source_;
  void *const mapping_; ///< the anonymous mapping that holds the copy
  const uint64_t mappingBytes_;
  uint8_t *const target_; ///< the copy: the first 2 MiB boundary inside mapping_
  const std::function<void()> beforeSwitch_;
  std::atomic<const uint8_t *> current_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable finishedChanged_;
  bool finished_ = false; ///< the thread is done: the copy is in use, or it stopped
  std::optional<Clock::time_point> copiedAt_;
  std::thread thread_; ///< last: it starts once every other member is ready
};

WeightMemory::WeightMemory(PayloadBytes source, std::unique_ptr<BackgroundCopy> copy, std::string failure)
    : source_(source), copy_(std::move(copy)), failure_(std::move(failure)) {}

WeightMemory WeightMemory::mapped(PayloadBytes source) { return WeightMemory(source, nullptr, "not asked for"); }

WeightMemory WeightMemory::hugePageCopy(PayloadBytes source, std::function<void()> beforeSwitch) {
  if (!hugePagesAvailable()) return WeightMemory(source, nullptr, "transparent huge pages are off");
  // One extra huge page of address space, so the copy can start on a 2 MiB boundary.
  const uint64_t bytes = (source.size + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  void *mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED)
    return WeightMemory(source, nullptr,
                        "cannot map " + std::to_string(bytes) + " bytes for the copy: " + std::strerror(errno));
  auto *aligned =
      reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(mapping) + kHugePage - 1) & ~(kHugePage - 1));
  madvise(aligned, bytes - kHugePage, MADV_HUGEPAGE); // advice only: without it the copy still works
  try {
    return WeightMemory(source,
                        std::make_unique<BackgroundCopy>(source, mapping, bytes, aligned, std::move(beforeSwitch)), "");
  } catch (const std::exception &e) {
    munmap(mapping, bytes);
    return WeightMemory(source, nullptr, std::string("cannot start the copy: ") + e.what());
  }
}

WeightMemory::WeightMemory(WeightMemory &&other) noexcept = default;

WeightMemory::~WeightMemory() = default;

const uint8_t *WeightMemory::data() const { return copy_ ? copy_->current() : source_.data; }

bool WeightMemory::copied() const { return copy_ && copy_->copied(); }

bool WeightMemory::waitForCopy() const {
  if (copy_) copy_->wait();
  return copied();
}

std::optional<WeightMemory::Clock::time_point> WeightMemory::copiedAt() const {
  return copy_ ? copy_->copiedAt() : std::nullopt;
}

} // namespace granite::runtime
