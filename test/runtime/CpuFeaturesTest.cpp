// runtime/CpuFeatures.h: the detection against the kernel's view of the CPU (/proc/cpuinfo), and the refusal line.
#include "runtime/CpuFeatures.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

namespace granite::runtime {
namespace {

std::string presentFeatures() {
  std::string joined;
  for (const auto &[name, has] : cpuFeatures())
    if (has) joined += (joined.empty() ? "" : ",") + name;
  return joined;
}

/// The words of /proc/cpuinfo's first "flags" line (x86-64) or "Features" line (aarch64).
std::set<std::string> kernelFlags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("flags", 0) != 0 && line.rfind("Features", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  }
  return {};
}

// The kernel never lists a feature the CPU or the OS lacks, but it (or a hypervisor) may leave one out: the VM
// this was written on hides abm (LZCNT), which cpuid reports and the CPU executes.
TEST(CpuFeatures, FindEveryFeatureTheKernelLists) {
  const std::set<std::string> flags = kernelFlags();
  if (flags.empty()) GTEST_SKIP() << "/proc/cpuinfo lists no CPU flags here";
  // The kernel's names where they differ from LLVM's (arch/x86/include/asm/cpufeatures.h, arm64 hwcaps).
  const std::map<std::string, std::string> kernelName = {{"sse4.1", "sse4_1"},
                                                         {"sse4.2", "sse4_2"},
                                                         {"lzcnt", "abm"},
                                                         {"bmi", "bmi1"},
                                                         {"avx512vnni", "avx512_vnni"},
                                                         {"avx512bf16", "avx512_bf16"},
                                                         {"avx512vbmi2", "avx512_vbmi2"},
                                                         {"avx512bitalg", "avx512_bitalg"},
                                                         {"avx512vpopcntdq", "avx512_vpopcntdq"},
                                                         {"amx-tile", "amx_tile"},
                                                         {"amx-int8", "amx_int8"},
                                                         {"amx-bf16", "amx_bf16"},
                                                         {"neon", "asimd"},
                                                         {"dotprod", "asimddp"},
                                                         {"fp16", "asimdhp"},
                                                         {"lse", "atomics"}};
  const auto features = cpuFeatures();
  ASSERT_FALSE(features.empty());
  for (const auto &[name, has] : features) {
    auto renamed = kernelName.find(name);
    const std::string flag = renamed == kernelName.end() ? name : renamed->second;
    if (flags.count(flag)) EXPECT_TRUE(has) << name << " (kernel flag " << flag << ")";
  }
}

TEST(CpuFeatures, NamesTheFirstMissingFeature) {
  const std::string present = presentFeatures();
  EXPECT_EQ(missingCpuFeature(""), "");
  EXPECT_EQ(missingCpuFeature(present), "");
  // An unknown name cannot be vouched for; the first missing one in list order is named.
  EXPECT_EQ(missingCpuFeature(present + ",granite-unknown,granite-other"), "granite-unknown");
  for (const auto &[name, has] : cpuFeatures())
    if (!has) EXPECT_EQ(missingCpuFeature(present + "," + name), name);
}

TEST(CpuFeatures, RefusalNamesTheMostCapableTargetThatRuns) {
  const std::string present = presentFeatures();
  EXPECT_EQ(cpuRefusal("fits", present, "other:granite-unknown"), "");
  EXPECT_EQ(cpuRefusal("big", "granite-unknown", "bigger:granite-unknown,granite-x;small:" + present + ";tiny:"),
            "this CPU lacks granite-unknown, which big needs; compile with --target small (or --target host on this "
            "machine)");
  EXPECT_EQ(cpuRefusal("big", "granite-unknown", "bigger:granite-unknown"),
            "this CPU lacks granite-unknown, which big needs, and no granitec target runs on it");
  EXPECT_EQ(cpuRefusal("big", "granite-unknown", ""),
            "this CPU lacks granite-unknown, which big needs, and no granitec target runs on it");
}

} // namespace
} // namespace granite::runtime
