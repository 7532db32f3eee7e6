// `granitec compile` on golden models, then the executable's check modes against llama.cpp's reference run
// (shared/golden/README.md): greedy ids exactly, and the logits each was chosen from. The dense model's greedy path
// passes the unused token 435, which llama.cpp's argmax takes, so --greedy must not skip unused tokens.
#include "test/TestFiles.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using granite::test::joinIds;
using granite::test::maxAbsDiff;
using granite::test::readFile;
using granite::test::readFloats;

/// Compiles `model` (with --weights=external when asked) and checks `--ids <prompt> --greedy 16 --gen-logits` with
/// the prompt fed in chunks of `chunk`, reading the weights from their huge-page copy (once it takes over) and, with
/// --mmap, where they are mapped.
void checkGreedy(const std::string &model, bool externalWeights, int chunk) {
  const fs::path golden = fs::path(GRANITE_GOLDEN_DIR);
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / (model + "." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path executable = work / model, genLogits = work / "gen.f32", output = work / "stdout";
  nlohmann::json reference = nlohmann::json::parse(readFile(golden / "logits" / (model + ".json")));

  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  std::ostringstream compile;
  compile << GRANITE_BIN_DIR << "/granitec compile " << golden / "models" / (model + ".gguf")
          << " --ctx 64 --max-tokens 32 -o " << executable << (externalWeights ? " --weights=external" : "");
  ASSERT_EQ(std::system(compile.str().c_str()), 0) << compile.str();
  ASSERT_EQ(fs::exists(executable.string() + ".weights"), externalWeights);

  for (const char *placement : {"", " --mmap"}) {
    SCOPED_TRACE(placement);
    std::ostringstream run;
    run << executable << placement << " --greedy 16 --gen-logits " << genLogits << " --chunk " << chunk << " --ids ";
    run << joinIds(reference["prompt_ids"].get<std::vector<int32_t>>()) << " >" << output;
    ASSERT_EQ(std::system(run.str().c_str()), 0) << run.str();

    EXPECT_EQ(readFile(output), joinIds(reference["greedy_ids"].get<std::vector<int32_t>>(), " ") + "\n");
    std::vector<float> logits = readFloats(genLogits);
    std::vector<float> expected = readFloats(golden / "logits" / (model + ".gen_logits.f32"));
    ASSERT_EQ(logits.size(), expected.size());
    EXPECT_LE(maxAbsDiff(logits, expected), 1e-4f);
  }
  fs::remove_all(work);
}

TEST(GoldenExecutable, DenseF32GreedyMatchesLlamaCpp) { checkGreedy("dense-f32", false, 12); }

TEST(GoldenExecutable, HybridF32GreedyWithExternalWeights) { checkGreedy("hybrid-f32", true, 5); }

} // namespace
