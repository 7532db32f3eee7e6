// Shared pieces of the kernel tests: family gating and Halide buffer helpers.
#pragma once

#include "HalideBuffer.h"
#include "Target/CpuFamily.h"

#include <gtest/gtest.h>

#include <string>

namespace granite::test {

/// The test families: "avx2" and "bf16" name x86-64-avx2 and x86-64-avx512-bf16.
inline const target::CpuFamily &testFamily(const std::string &shortName) {
  const char *full = shortName == "avx2" ? "x86-64-avx2" : "x86-64-avx512-bf16";
  return *target::findFamily(full);
}

/// Skips the current test when this CPU cannot run code for the family.
#define GRANITE_SKIP_UNLESS_HOST_RUNS(shortName)                                                                       \
  do {                                                                                                                 \
    if (!::granite::target::hostCanRun(::granite::test::testFamily(shortName)))                                        \
      GTEST_SKIP() << "host CPU cannot run family " << shortName;                                                      \
  } while (0)

} // namespace granite::test
