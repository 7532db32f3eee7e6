// `granitec compile --target aarch64-neon -o OUT` on an x86-64 host: the whole executable (model object, kernels,
// runtime archives built by the cross compiler, payload) run under qemu-aarch64 on each f32 golden model, against
// llama.cpp's prompt logits, greedy ids and the logits each id was chosen from (shared/golden/README.md). The dense
// model also for aarch64-neon-dotprod (other Halide target features; qemu's CPU has every feature).
#include "test/TestFiles.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <elf.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using granite::test::joinIds;
using granite::test::maxAbsDiff;
using granite::test::readFile;
using granite::test::readFloats;

/// The f32 bound of GoldenModelTest.cpp (kF32Rounding): the same sums in another order. Every greedy step of the
/// three models has a reference margin (top1 - top2) of at least 0.044, so the ids must match exactly.
constexpr float kF32Rounding = 2e-5f;
constexpr const char *kQemu = "/usr/bin/qemu-aarch64";
/// The cross toolchain's sysroot: qemu-aarch64 finds the dynamic loader and glibc there.
constexpr const char *kSysroot = "/usr/aarch64-linux-gnu";

struct Aarch64Case {
  std::string model;
  std::string family;
};

void PrintTo(const Aarch64Case &c, std::ostream *os) { *os << c.model << " on " << c.family; }

class Aarch64ExecutableTest : public testing::TestWithParam<Aarch64Case> {};

TEST_P(Aarch64ExecutableTest, MatchesLlamaCppUnderQemu) {
  if (!GRANITE_TEST_AARCH64_RUNTIME)
    GTEST_SKIP() << "granitec was built without the aarch64 runtime (needs aarch64-linux-gnu-g++ and the arm64 PCRE2 "
                    "of scripts/setup)";
  if (!fs::exists(kQemu) || !fs::exists(fs::path(kSysroot) / "lib" / "ld-linux-aarch64.so.1"))
    GTEST_SKIP() << "qemu-aarch64 or the aarch64 sysroot " << kSysroot << " is not installed";
  const std::string &model = GetParam().model, &family = GetParam().family;
  const fs::path golden = fs::path(GRANITE_GOLDEN_DIR);
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / (model + "." + family + "." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path executable = work / model, promptLogits = work / "prompt.f32", genLogits = work / "gen.f32",
                 output = work / "stdout";
  nlohmann::json reference = nlohmann::json::parse(readFile(golden / "logits" / (model + ".json")));

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << GRANITE_BIN_DIR << "/granitec compile " << golden / "models" / (model + ".gguf") << " --target " << family
          << " --ctx 64 --max-tokens 32 -q -o " << executable;
  ASSERT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  Elf64_Ehdr header{};
  std::ifstream(executable, std::ios::binary).read(reinterpret_cast<char *>(&header), sizeof header);
  ASSERT_EQ(header.e_machine, EM_AARCH64) << executable << " is not an aarch64 executable";

  std::ostringstream run;
  run << kQemu << " -L " << kSysroot << " " << executable << " --threads 2 --logits " << promptLogits
      << " --greedy 16 --gen-logits " << genLogits << " --ids ";
  run << joinIds(reference["prompt_ids"].get<std::vector<int32_t>>()) << " >" << output;
  ASSERT_EQ(std::system(run.str().c_str()), 0) << run.str();

  EXPECT_EQ(readFile(output), joinIds(reference["greedy_ids"].get<std::vector<int32_t>>(), " ") + "\n");
  std::vector<float> logits = readFloats(promptLogits);
  std::vector<float> expected = readFloats(golden / "logits" / (model + ".prompt_logits.f32"));
  ASSERT_EQ(logits.size(), expected.size());
  const float promptDiff = maxAbsDiff(logits, expected);
  EXPECT_LE(promptDiff, kF32Rounding);
  logits = readFloats(genLogits);
  expected = readFloats(golden / "logits" / (model + ".gen_logits.f32"));
  ASSERT_EQ(logits.size(), expected.size());
  const float genDiff = maxAbsDiff(logits, expected);
  EXPECT_LE(genDiff, kF32Rounding);
  std::cout << model << " on " << family << " under qemu: max |diff| prompt " << promptDiff << ", greedy steps "
            << genDiff << "\n";
  if (!HasFailure()) fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(F32, Aarch64ExecutableTest,
                         testing::Values(Aarch64Case{"dense-f32", "aarch64-neon"},
                                         Aarch64Case{"hybrid-f32", "aarch64-neon"},
                                         Aarch64Case{"moe-f32", "aarch64-neon"},
                                         Aarch64Case{"dense-f32", "aarch64-neon-dotprod"}),
                         [](const testing::TestParamInfo<Aarch64Case> &info) {
                           std::string name = info.param.model + "_on_" + info.param.family;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
