// x86-64-amx executables (issue #18). A golden BF16 model compiles for the family (its prefill products hold AMX
// tile instructions); on a CPU without AMX the executable refuses with its one line and status 1, never SIGILL. The
// fallback for a kernel that refuses the tile state (GRANITE_AMX_PERMISSION=refuse simulates it on any CPU) prints
// one line and runs prefill one token at a time: the same tokens, and the logits of --chunk 1.
#include "Target/CpuFamily.h"
#include "runtime/CpuFeatures.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using granite::target::CpuFamily;

struct Result {
  int status; // the exit status, or 128 + the signal
  std::string out, err;
};

std::string readText(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class AmxExecutable : public ::testing::Test {
protected:
  static fs::path work() { return fs::path(GRANITE_TEST_WORK_DIR) / ("amx." + std::to_string(getpid())); }
  static fs::path amx() { return work() / "dense-bf16-amx"; }
  static fs::path host() { return work() / "dense-f32-host"; }

  static void SetUpTestSuite() {
    fs::create_directories(work());
    setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
    const std::string granitec = std::string(GRANITE_BIN_DIR) + "/granitec compile " + GRANITE_GOLDEN_DIR + "/models/";
    for (const auto &[model, target, out] :
         {std::tuple{"dense-bf16", "x86-64-amx", amx()}, std::tuple{"dense-f32", "host", host()}}) {
      std::string compile = granitec + model + ".gguf --ctx 64 --max-tokens 8 --target " + target + " -o " +
                            out.string() + " -q 2>" + (work() / "compile.err").string();
      ASSERT_EQ(std::system(compile.c_str()), 0) << compile << "\n" << readText(work() / "compile.err");
    }
  }
  static void TearDownTestSuite() { fs::remove_all(work()); }

  static Result run(const fs::path &executable, const std::string &args, const std::string &environment = "") {
    const fs::path out = work() / "stdout", err = work() / "stderr";
    std::string command =
        environment + " " + executable.string() + " " + args + " >" + out.string() + " 2>" + err.string();
    int status = std::system(command.c_str());
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return {code, readText(out), readText(err)};
  }
};

const char *const kIds = "--ids 1,2,3,4,5,6,7,8,9,10,11 --greedy 4";

TEST_F(AmxExecutable, PrefillHoldsTileInstructions) {
  if (std::system("command -v objdump >/dev/null 2>&1") != 0) GTEST_SKIP() << "objdump is not installed";
  std::string command =
      "objdump -d --no-show-raw-insn " + amx().string() + " | grep -cw tdpbf16ps >" + (work() / "count").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << "no tdpbf16ps in the x86-64-amx executable";
  EXPECT_GT(std::stoi(readText(work() / "count")), 0);
}

TEST_F(AmxExecutable, RefusesACpuWithoutAmxInOneLine) {
  const CpuFamily &family = *granite::target::findFamily("x86-64-amx");
  if (granite::target::hostCanRun(family)) GTEST_SKIP() << "this CPU has AMX: the refusal needs a CPU without it";
  Result result = run(amx(), kIds);
  EXPECT_EQ(result.status, 1) << "132 is SIGILL";
  EXPECT_EQ(result.err, amx().string() + ": error: " +
                            granite::runtime::cpuRefusal(family.name, granite::target::joinedFeatures(family),
                                                         granite::target::otherTargets(family)) +
                            "\n");
  EXPECT_NE(result.err.find("this CPU lacks amx-tile, which x86-64-amx needs; compile with --target"),
            std::string::npos);
  EXPECT_EQ(result.out, "");
}

TEST_F(AmxExecutable, RunsWhereTheCpuHasAmx) {
  if (!granite::target::hostCanRun(*granite::target::findFamily("x86-64-amx")))
    GTEST_SKIP() << "this CPU has no AMX (amx-tile, amx-bf16)";
  Result result = run(amx(), kIds);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "") << "the kernel refused the tile state?";
  EXPECT_NE(result.out, "");
}

TEST_F(AmxExecutable, RefusedTileStateRunsPrefillOneTokenAtATime) {
  const fs::path batched = work() / "batched.logits", refused = work() / "refused.logits";
  const fs::path single = work() / "single.logits";
  Result normal = run(host(), std::string(kIds) + " --logits " + batched.string());
  ASSERT_EQ(normal.status, 0) << normal.err;
  EXPECT_EQ(normal.err, "");
  // --chunk 8 asks for pieces of 8; the refusal makes them single tokens anyway.
  Result fallback =
      run(host(), std::string(kIds) + " --chunk 8 --logits " + refused.string(), "GRANITE_AMX_PERMISSION=refuse");
  ASSERT_EQ(fallback.status, 0) << fallback.err;
  EXPECT_EQ(fallback.err, host().string() + ": the kernel refused AMX tile state (arch_prctl: refused by "
                                            "GRANITE_AMX_PERMISSION=refuse); prefill runs one token at a time\n");
  EXPECT_EQ(fallback.out, normal.out) << "the same tokens";
  Result oneByOne = run(host(), std::string(kIds) + " --chunk 1 --logits " + single.string());
  ASSERT_EQ(oneByOne.status, 0) << oneByOne.err;
  EXPECT_FALSE(readText(refused).empty());
  EXPECT_EQ(readText(refused), readText(single)) << "the logits of one token per forward call";
}

} // namespace
