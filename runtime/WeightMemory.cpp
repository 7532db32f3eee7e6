#include "runtime/WeightMemory.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace granite::runtime {
namespace {

constexpr uint64_t kHugePage = uint64_t{2} << 20;
constexpr uint64_t kCopyPiece = uint64_t{32} << 20;

/// True unless the kernel's transparent huge pages are off ("[never]" or no such file).
bool hugePagesAvailable() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  return std::getline(file, setting) && setting.find("[never]") == std::string::npos;
}

} // namespace

WeightMemory WeightMemory::mapped(PayloadBytes source) { return WeightMemory(source.data, source.size, nullptr, 0); }

WeightMemory WeightMemory::hugePageCopy(PayloadBytes source) {
  if (source.size < kHugePage || !hugePagesAvailable()) return mapped(source);
  // One extra huge page of address space, so the copy can start on a 2 MiB boundary.
  const uint64_t bytes = (source.size + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  void *mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) return mapped(source);
  auto *aligned =
      reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(mapping) + kHugePage - 1) & ~(kHugePage - 1));
  madvise(aligned, bytes - kHugePage, MADV_HUGEPAGE); // advice only: without it the copy still works
  // Every core copies a share: the page faults and the zeroing of fresh huge pages dominate, not the bandwidth.
  // Each piece's source pages leave this process's resident set as soon as they are copied (the file stays in the
  // page cache), so the peak stays near one copy.
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  auto copyPiece = [&](uint64_t begin, uint64_t length) {
    std::memcpy(aligned + begin, source.data + begin, length);
    const uintptr_t start = reinterpret_cast<uintptr_t>(source.data + begin);
    const uintptr_t first = (start + page - 1) & ~(page - 1), last = (start + length) & ~(page - 1);
    if (last > first) madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
  };
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const uint64_t share = (source.size / threads + kHugePage - 1) / kHugePage * kHugePage;
  std::vector<std::thread> copiers;
  for (uint64_t begin = 0; begin < source.size; begin += share) {
    const uint64_t end = std::min(begin + share, source.size);
    copiers.emplace_back([=] {
      for (uint64_t piece = begin; piece < end; piece += kCopyPiece)
        copyPiece(piece, std::min(kCopyPiece, end - piece));
    });
  }
  for (std::thread &copier : copiers) copier.join();
  return WeightMemory(aligned, source.size, mapping, bytes);
}

WeightMemory::WeightMemory(WeightMemory &&other) noexcept
    : data_(other.data_), size_(other.size_), mapping_(other.mapping_), mappingBytes_(other.mappingBytes_) {
  other.mapping_ = nullptr;
}

WeightMemory::~WeightMemory() {
  if (mapping_) munmap(mapping_, mappingBytes_);
}

} // namespace granite::runtime
