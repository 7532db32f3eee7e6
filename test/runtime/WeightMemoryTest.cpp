// Where the kernels read the weights from: the mapped source until the background huge-page copy is complete, then
// the copy (the same bytes, aligned to 2 MiB); the source stays readable. --mmap uses the source as it is, and so
// does a copy whose memory cannot be mapped.
#include "runtime/WeightMemory.h"
#include "test/TestFiles.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <string>
#include <sys/resource.h>
#include <vector>

namespace granite::runtime {
namespace {

using granite::test::MappedFile;

/// Bytes that differ from page to page and within each.
std::vector<uint8_t> patternBytes(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + (i >> 12));
  return bytes;
}

TEST(WeightMemory, TheCopyTakesOverOnceCompleteWithTheSameBytes) {
  const std::vector<uint8_t> expected = patternBytes((size_t{5} << 20) + 123); // not a whole number of pages
  MappedFile source(expected);
  std::promise<void> copyHeld, resume;
  std::shared_future<void> resumed = resume.get_future().share();
  WeightMemory weights = WeightMemory::hugePageCopy({source.data(), source.size()}, [&] {
    copyHeld.set_value();
    resumed.wait();
  });
  if (!weights.copyFailure().empty()) {
    resume.set_value();
    GTEST_SKIP() << "no huge-page copy here: " << weights.copyFailure();
  }
  if (copyHeld.get_future().wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    resume.set_value();
    FAIL() << "the copy did not complete within a minute";
  }
  // Every byte is copied, but the copy has not taken over: readers still get the source.
  EXPECT_EQ(weights.data(), source.data());
  EXPECT_FALSE(weights.copied());
  EXPECT_FALSE(weights.copiedAt());
  resume.set_value();

  EXPECT_TRUE(weights.waitForCopy());
  EXPECT_TRUE(weights.copied());
  EXPECT_TRUE(weights.copiedAt());
  EXPECT_EQ(weights.copyFailure(), "");
  ASSERT_EQ(weights.size(), expected.size());
  EXPECT_NE(weights.data(), source.data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weights.data()) % (uintptr_t{2} << 20), 0u);
  EXPECT_EQ(std::memcmp(weights.data(), expected.data(), expected.size()), 0);
  // Its pages were released, yet a reader still on the source reads the file's bytes.
  EXPECT_EQ(std::memcmp(source.data(), expected.data(), expected.size()), 0);
  WeightMemory moved(std::move(weights));
  EXPECT_TRUE(moved.copied());
  EXPECT_EQ(std::memcmp(moved.data(), expected.data(), expected.size()), 0);
}

// The destructor joins the copy thread before it unmaps the copy, also when it stops the copy midway: a thread
// left running would write into unmapped memory (a crash, or a report under scripts/test --sanitize).
TEST(WeightMemory, DestroyingItStopsACopyInProgress) {
  MappedFile source(uint64_t{256} << 20);
  for (int round = 0; round < 3; ++round) WeightMemory::hugePageCopy({source.data(), source.size()});
}

TEST(WeightMemory, MappedUsesTheSource) {
  MappedFile source(patternBytes(4096));
  WeightMemory mapped = WeightMemory::mapped({source.data(), source.size()});
  EXPECT_EQ(mapped.data(), source.data());
  EXPECT_EQ(mapped.size(), source.size());
  EXPECT_FALSE(mapped.waitForCopy());
  EXPECT_FALSE(mapped.copied());
  EXPECT_FALSE(mapped.copiedAt());
  EXPECT_EQ(mapped.copyFailure(), "not asked for");
}

/// The address space this process has mapped, in bytes (VmSize in /proc/self/status).
uint64_t mappedAddressSpace() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  return 0;
}

TEST(WeightMemory, ACopyThatCannotBeMappedLeavesTheSource) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator cannot run under an address-space limit";
#endif
  MappedFile source(uint64_t{64} << 20);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &saved), 0);
  const uint64_t used = mappedAddressSpace();
  ASSERT_GT(used, 0u);
  // Room for small allocations, none for a 64 MiB copy.
  rlimit tight = saved;
  tight.rlim_cur = used + (uint64_t{16} << 20);
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  WeightMemory weights = WeightMemory::hugePageCopy({source.data(), source.size()});
  setrlimit(RLIMIT_AS, &saved);
  EXPECT_EQ(weights.data(), source.data());
  EXPECT_FALSE(weights.waitForCopy());
  EXPECT_FALSE(weights.copiedAt());
  if (weights.copyFailure() != "transparent huge pages are off") {
    EXPECT_EQ(weights.copyFailure().rfind("cannot map ", 0), 0u) << weights.copyFailure();
  }
}

} // namespace
} // namespace granite::runtime
