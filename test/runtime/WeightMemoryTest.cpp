// Where the kernels read the weights from: the huge-page copy holds the same bytes, aligned to 2 MiB, and leaves
// the source readable; --mmap uses the source as it is.
#include "runtime/WeightMemory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sys/mman.h>
#include <vector>

namespace granite::runtime {
namespace {

TEST(WeightMemory, HugePageCopyHoldsTheSameBytes) {
  const size_t bytes = (size_t{5} << 20) + 123; // not a whole number of pages
  void *map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto *source = static_cast<uint8_t *>(map);
  for (size_t i = 0; i < bytes; ++i) source[i] = static_cast<uint8_t>(i * 131 + (i >> 12));
  std::vector<uint8_t> expected(source, source + bytes);
  {
    WeightMemory copy = WeightMemory::hugePageCopy({source, bytes});
    ASSERT_EQ(copy.size(), bytes);
    if (copy.copied()) {
      EXPECT_NE(copy.data(), source);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % (uintptr_t{2} << 20), 0u);
    }
    EXPECT_EQ(std::memcmp(copy.data(), expected.data(), bytes), 0);
    WeightMemory moved(std::move(copy));
    EXPECT_EQ(std::memcmp(moved.data(), expected.data(), bytes), 0);
  }
  munmap(map, bytes);
}

TEST(WeightMemory, MappedUsesTheSource) {
  std::vector<uint8_t> source(4096, 7);
  WeightMemory mapped = WeightMemory::mapped({source.data(), source.size()});
  EXPECT_EQ(mapped.data(), source.data());
  EXPECT_EQ(mapped.size(), source.size());
  EXPECT_FALSE(mapped.copied());
}

} // namespace
} // namespace granite::runtime
