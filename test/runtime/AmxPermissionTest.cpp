// runtime/AmxPermission.h: which models ask for the AMX tile state, the kernel's answer on this machine, and the
// simulated refusal. Each request is made in a child process: the answer is kept for the life of a process.
#include "runtime/AmxPermission.h"
#include "runtime/CpuFeatures.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

namespace granite::runtime {
namespace {

TEST(AmxPermission, OnlyModelsWithAmxTilesAsk) {
  EXPECT_TRUE(usesAmxTiles("amx-tile,amx-bf16,amx-int8,avx512bf16"));
  EXPECT_TRUE(usesAmxTiles("avx2,amx-tile"));
  EXPECT_FALSE(usesAmxTiles("avx512bf16,avx512vnni,avx2"));
  EXPECT_FALSE(usesAmxTiles("amx-tiles,xamx-tile"));
  EXPECT_FALSE(usesAmxTiles(""));
}

/// Exits 0 when the answer is `expectGranted`, writing the answer to stderr.
[[noreturn]] void askAndExit(const char *features, bool expectGranted) {
  const std::string why = requestAmxTileState(features);
  std::cerr << "answer: [" << why << "]" << std::endl;
  // A second call returns the same answer without asking again.
  const bool same = requestAmxTileState(features) == why && amxTilesRefused() == !why.empty();
  std::exit(same && why.empty() == expectGranted ? 0 : 1);
}

TEST(AmxPermission, ModelsWithoutTilesRunAsBefore) {
  EXPECT_EXIT(askAndExit("avx2,fma", true), ::testing::ExitedWithCode(0), "answer: \\[\\]");
}

TEST(AmxPermission, TheKernelAnswersForThisCpu) {
  if (missingCpuFeature("amx-tile").empty()) {
    // An AMX CPU on Linux 5.16 or later: the kernel grants the state.
    EXPECT_EXIT(askAndExit("amx-tile", true), ::testing::ExitedWithCode(0), "answer: \\[\\]");
  } else {
    // No AMX (or no XTILEDATA in XCR0): arch_prctl fails, and the model would fall back.
    EXPECT_EXIT(askAndExit("amx-tile", false), ::testing::ExitedWithCode(0),
                "answer: \\[the kernel refused AMX tile state \\(arch_prctl: .+\\); prefill runs one token at a "
                "time\\]");
  }
}

TEST(AmxPermission, TheEnvironmentSimulatesARefusalForAnyModel) {
  EXPECT_EXIT(
      {
        setenv("GRANITE_AMX_PERMISSION", "refuse", 1);
        askAndExit("avx2", false);
      },
      ::testing::ExitedWithCode(0),
      "answer: \\[the kernel refused AMX tile state \\(arch_prctl: refused by GRANITE_AMX_PERMISSION=refuse\\); "
      "prefill runs one token at a time\\]");
}

} // namespace
} // namespace granite::runtime
