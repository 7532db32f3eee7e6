// Where the kernels read the weight blob from. A decoded token reads every weight once, and read bandwidth is what
// bounds decode: with the 4 KiB pages of the mapped executable the hardware prefetchers stop at every page boundary
// and every page costs a TLB entry. A copy in 2 MiB pages (transparent huge pages) decoded h-350m BF16 about 12%
// faster on the 2-core Zen 5 this was measured on. Making it costs 0.3-1 s there (mostly the first touch of fresh
// memory), so it is made in the background: the first forward calls read the mapped weights, and the model switches to
// the copy between two forward calls once it is complete (CompiledModel reads data() once per granite_forward).
#pragma once

#include "runtime/Payload.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace granite::runtime {

class WeightMemory {
public:
  using Clock = std::chrono::steady_clock;

  /// Starts copying the blob into anonymous memory advised for transparent huge pages, on a background thread of
  /// the lowest priority that first faults the source's pages in, and returns at once. Until the copy is complete,
  /// data() is the source; from then on it is the copy, and this process's pages of the source are released, so
  /// `source` must be a file mapping (the page cache keeps the file, and a reader still on the source faults its pages
  /// in again). Without huge pages in the kernel, or when the memory cannot be mapped, data() stays the source and
  /// copyFailure() says why. `beforeSwitch`, when given, runs on the copy thread once every byte is copied, before
  /// data() changes: tests hold the copy there (the destructor waits for it to return).
  static WeightMemory hugePageCopy(PayloadBytes source, std::function<void()> beforeSwitch = {});
  /// Uses the mapping as it is: no copy at all (--mmap).
  static WeightMemory mapped(PayloadBytes source);

  WeightMemory(WeightMemory &&other) noexcept;
  WeightMemory &operator=(WeightMemory &&) = delete;
  WeightMemory(const WeightMemory &) = delete;
  /// Stops a copy in progress and joins its thread, then frees the copy.
  ~WeightMemory();

  /// Where the weights are now; thread-safe. It changes once, from the source to the copy, and both hold the same
  /// bytes: a forward call reads it once and passes that address to every kernel it runs.
  const uint8_t *data() const;
  uint64_t size() const { return source_.size; }
  /// True when data() is the huge-page copy.
  bool copied() const;
  /// Blocks until the copy is in use (at once when there is none); returns copied().
  bool waitForCopy() const;
  /// When data() switched to the copy; nothing before that, or without a copy.
  std::optional<Clock::time_point> copiedAt() const;
  /// Why there is no copy: "not asked for" from mapped(), else the reason it could not be made; "" while it is made
  /// and once it is in use.
  const std::string &copyFailure() const { return failure_; }

private:
  class BackgroundCopy;
  WeightMemory(PayloadBytes source, std::unique_ptr<BackgroundCopy> copy, std::string failure);

  PayloadBytes source_;
  std::unique_ptr<BackgroundCopy> copy_; ///< null when there is no copy
  std::string failure_;                  ///< why copy_ is null
};

} // namespace granite::runtime
