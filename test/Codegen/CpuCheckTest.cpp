// Executables compiled for one family under qemu-x86_64 emulating CPUs without it: one line and exit status 1, never
// SIGILL; and under a CPU that has the family's features they run. qemu 7.2's TCG emulates AVX2 but not AVX-512, so
// the AVX-512 families are only checked for their refusal (the native run covers them where the host has them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status; // the exit status, or 128 + the signal
  std::string out, err;
};

std::string readText(const fs::path &path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// qemu's own "warning: TCG doesn't support requested feature" lines removed.
std::string withoutQemuWarnings(const std::string &text) {
  std::istringstream lines(text);
  std::string kept;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("qemu-x86_64: warning:", 0) != 0) kept += line + "\n";
  return kept;
}

class CpuCheck : public ::testing::Test {
protected:
  static fs::path work() { return fs::path(GRANITE_TEST_WORK_DIR) / ("cpu-check." + std::to_string(getpid())); }
  static fs::path executable(const std::string &family) { return work() / ("dense-" + family); }

  static void SetUpTestSuite() {
#if !defined(__x86_64__)
    GTEST_SKIP() << "qemu-x86_64 checks run on x86-64 hosts";
#endif
    if (std::system("command -v qemu-x86_64 >/dev/null 2>&1") != 0) GTEST_SKIP() << "qemu-x86_64 is not installed";
    fs::create_directories(work());
    setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
    for (const char *family : {"x86-64-avx2", "x86-64-avx512", "x86-64-avx512-bf16"}) {
      std::string compile = std::string(GRANITE_BIN_DIR) + "/granitec compile " + GRANITE_GOLDEN_DIR +
                            "/models/dense-f32.gguf --ctx 64 --max-tokens 8 --target " + family + " -o " +
                            executable(family).string() + " 2>/dev/null";
      ASSERT_EQ(std::system(compile.c_str()), 0) << compile;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(work()); }

  /// Runs `family`'s executable with `args`, under `qemu-x86_64 -cpu cpu` unless cpu is empty.
  static Result run(const std::string &cpu, const std::string &family, const std::string &args) {
    const fs::path out = work() / "stdout", err = work() / "stderr";
    std::string command = (cpu.empty() ? "" : "qemu-x86_64 -cpu " + cpu + " ") + executable(family).string() + " " +
                          args + " >" + out.string() + " 2>" + err.string();
    int status = std::system(command.c_str());
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return {code, readText(out), withoutQemuWarnings(readText(err))};
  }
};

const char *const kIds = "--ids 1,2,3,4,5 --greedy 4";

TEST_F(CpuCheck, Avx2ExecutableRefusesWestmere) {
  Result result = run("Westmere", "x86-64-avx2", kIds);
  EXPECT_EQ(result.status, 1) << "132 is SIGILL";
  EXPECT_EQ(result.err,
            executable("x86-64-avx2").string() +
                ": error: this CPU lacks avx2, which x86-64-avx2 needs, and no granitec target runs on it\n");
  EXPECT_EQ(result.out, "");
  // --version runs nothing compiled for the family.
  Result version = run("Westmere", "x86-64-avx2", "--version");
  EXPECT_EQ(version.status, 0) << version.err;
  EXPECT_NE(version.out.find("target: x86-64-avx2\n"), std::string::npos) << version.out;
}

TEST_F(CpuCheck, Avx512ExecutablesRefuseHaswellAndNameAvx2) {
  for (const auto &[family, missing] :
       {std::pair<std::string, std::string>{"x86-64-avx512", "avx512f"}, {"x86-64-avx512-bf16", "avx512bf16"}}) {
    SCOPED_TRACE(family);
    Result result = run("Haswell", family, kIds);
    EXPECT_EQ(result.status, 1) << "132 is SIGILL";
    EXPECT_EQ(result.err, executable(family).string() + ": error: this CPU lacks " + missing + ", which " + family +
                              " needs; compile with --target x86-64-avx2 (or --target host on this machine)\n");
    EXPECT_EQ(result.out, "");
  }
}

TEST_F(CpuCheck, Avx2ExecutableRunsOnHaswellAsNatively) {
  Result emulated = run("Haswell", "x86-64-avx2", kIds);
  ASSERT_EQ(emulated.status, 0) << emulated.err;
  EXPECT_EQ(emulated.err, "");
  Result native = run("", "x86-64-avx2", kIds);
  if (native.status == 1 && native.err.find("this CPU lacks") != std::string::npos)
    GTEST_SKIP() << "the host cannot run x86-64-avx2 to compare with: " << native.err;
  ASSERT_EQ(native.status, 0) << native.err;
  EXPECT_EQ(emulated.out, native.out);
}

TEST_F(CpuCheck, Avx512UnderQemuNeedsAnAvx512Emulation) {
  Result result = run("Icelake-Server", "x86-64-avx512", kIds);
  if (result.status == 1 && result.err.find("this CPU lacks avx512") != std::string::npos)
    GTEST_SKIP() << "this qemu-x86_64 does not emulate AVX-512 (qemu 7.2's TCG does not): " << result.err;
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, run("", "x86-64-avx512", kIds).out);
}

// aarch64-neon-dotprod under qemu-aarch64: refused by a Cortex-A72 (no dot product), run by a Neoverse N1.
TEST(CpuCheckAarch64, DotprodExecutableRefusesCortexA72AndRunsOnNeoverseN1) {
  if (std::system("command -v qemu-aarch64 >/dev/null 2>&1") != 0) GTEST_SKIP() << "qemu-aarch64 is not installed";
  const fs::path work = fs::path(GRANITE_TEST_WORK_DIR) / ("cpu-check-aarch64." + std::to_string(getpid()));
  fs::create_directories(work);
  const fs::path executable = work / "dense-dotprod", out = work / "stdout", err = work / "stderr";
  setenv("GRANITEC_KERNEL_CACHE", GRANITE_TEST_KERNEL_CACHE, 1);
  const std::string compile = std::string(GRANITE_BIN_DIR) + "/granitec compile " + GRANITE_GOLDEN_DIR +
                              "/models/dense-f32.gguf --ctx 64 --max-tokens 8 --target aarch64-neon-dotprod -o " +
                              executable.string() + " 2>" + err.string();
  if (std::system(compile.c_str()) != 0) {
    std::string why = readText(err);
    fs::remove_all(work);
    if (why.find("cannot link for aarch64") != std::string::npos) GTEST_SKIP() << why;
    FAIL() << compile << ": " << why;
  }
  auto run = [&](const std::string &cpu) {
    std::string command = "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu " + cpu + " " + executable.string() + " " +
                          kIds + " >" + out.string() + " 2>" + err.string();
    int status = std::system(command.c_str());
    return Result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), readText(out), readText(err)};
  };
  Result refused = run("cortex-a72");
  EXPECT_EQ(refused.status, 1) << "132 is SIGILL";
  EXPECT_EQ(refused.err, executable.string() +
                             ": error: this CPU lacks dotprod, which aarch64-neon-dotprod needs; "
                             "compile with --target aarch64-neon (or --target host on this machine)\n");
  Result runs = run("neoverse-n1");
  EXPECT_EQ(runs.status, 0) << runs.err;
  EXPECT_FALSE(runs.out.empty());
  fs::remove_all(work);
}

} // namespace
