// Where the kernels read the weight blob from. A decoded token reads every weight once, and read bandwidth is what
// bounds decode: with the 4 KiB pages of the mapped executable the hardware prefetchers stop at every page boundary
// and every page costs a TLB entry. A copy in 2 MiB pages (transparent huge pages) decoded h-350m BF16 about 12%
// faster on the 2-core Zen 5 this was measured on; it costs a copy at start-up (about 0.1 s per GB).
#pragma once

#include "runtime/Payload.h"

#include <cstdint>

namespace granite::runtime {

class WeightMemory {
public:
  /// Copies the blob into anonymous memory advised for transparent huge pages and releases this process's pages of
  /// the source mapping (the page cache keeps the file). Uses the mapping itself where the kernel has no huge pages.
  static WeightMemory hugePageCopy(PayloadBytes source);
  /// Uses the mapping as it is: the fastest start and no second copy (--mmap).
  static WeightMemory mapped(PayloadBytes source);

  WeightMemory(WeightMemory &&other) noexcept;
  WeightMemory &operator=(WeightMemory &&) = delete;
  WeightMemory(const WeightMemory &) = delete;
  ~WeightMemory();

  const uint8_t *data() const { return data_; }
  uint64_t size() const { return size_; }
  /// True when the weights live in a huge-page copy.
  bool copied() const { return mapping_ != nullptr; }

private:
  WeightMemory(const uint8_t *data, uint64_t size, void *mapping, uint64_t mappingBytes)
      : data_(data), size_(size), mapping_(mapping), mappingBytes_(mappingBytes) {}

  const uint8_t *data_;
  uint64_t size_;
  void *mapping_; ///< the anonymous mapping that holds the copy, or null
  uint64_t mappingBytes_;
};

} // namespace granite::runtime
