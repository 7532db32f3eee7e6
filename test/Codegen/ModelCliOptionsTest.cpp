// The generated executable's own flags in the shared parser: which combinations are accepted, and that the runtime
// CLI (which has no compiled model) refuses their modes with exit status 2.
#include "runtime/ByteUnicode.h"
#include "runtime/Cli.h"
#include "runtime/CliOptions.h"

#include <gtest/gtest.h>

#include <sstream>

namespace granite::runtime {
namespace {

std::string usageError(const std::vector<std::string> &args) {
  try {
    parseCliOptions(args);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "no error";
}

TEST(ModelCliOptions, ParsesTheCompiledModelChecks) {
  CliOptions o = parseCliOptions({"--ids", "1, 2,3", "--logits", "a.f32", "--greedy", "4", "--gen-logits", "b.f32",
                                  "--chunk", "5", "--threads", "6"});
  EXPECT_EQ(*o.ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(*o.logitsFile, "a.f32");
  EXPECT_EQ(o.greedy, 4);
  EXPECT_EQ(*o.genLogitsFile, "b.f32");
  EXPECT_EQ(o.chunk, 5);
  EXPECT_EQ(o.threads, 6);
  EXPECT_TRUE(o.compiledModelMode());
  CliOptions bench = parseCliOptions({"--bench", "--bench-prompt", "7", "--bench-gen", "8"});
  EXPECT_TRUE(bench.bench && bench.compiledModelMode());
  EXPECT_EQ(bench.benchPrompt, 7);
  EXPECT_EQ(bench.benchGen, 8);
  EXPECT_FALSE(parseCliOptions({"-p", "x", "--threads", "2"}).compiledModelMode());
  EXPECT_TRUE(parseCliOptions({"--version"}).compiledModelMode());
  EXPECT_EQ(parseCliOptions({"--bench", "-t", "3", "--ctx-size=64"}).threads, 3);
}

TEST(ModelCliOptions, RejectsFlagsWithoutTheirMode) {
  EXPECT_EQ(usageError({"-p", "x", "--logits", "a"}), "--logits and --greedy need --ids");
  EXPECT_EQ(usageError({"--ids", "1", "--gen-logits", "a"}), "--gen-logits needs --greedy");
  EXPECT_EQ(usageError({"-p", "x", "--chunk", "2"}), "--chunk needs --ids or --bench");
  EXPECT_EQ(usageError({"--info", "--bench-gen", "2"}), "--bench-prompt and --bench-gen need --bench");
  EXPECT_EQ(usageError({"--ids", ""}), "--ids expects at least one token id");
  EXPECT_EQ(usageError({"--ids", "1", "--chunk", "0"}), "--chunk must be at least 1");
  EXPECT_EQ(usageError({"--info", "--bench"}), "--bench and --info cannot be combined");
  EXPECT_EQ(usageError({"--version", "-p", "x"}), "-p and --version cannot be combined");
  EXPECT_EQ(usageError({"--version=1"}), "--version takes no value");
}

TEST(ModelCliOptions, TheRuntimeCliRefusesThemWithoutACompiledModel) {
  Vocabulary bytesOnly; // the smallest vocabulary a tokenizer accepts: one token per byte
  for (int byte = 0; byte < 256; ++byte) {
    bytesOnly.tokens.push_back(bytesToByteUnicode(std::string(1, static_cast<char>(byte))));
    bytesOnly.tokenTypes.push_back(TokenType::Normal);
  }
  Tokenizer tokenizer(bytesOnly);
  std::istringstream in;
  bool loaded = false;
  for (const char *mode : {"--info", "--version"}) {
    std::ostringstream out, err;
    int status = runCli("granite", {mode}, tokenizer,
                        [&]() -> std::unique_ptr<Model> {
                          loaded = true;
                          return nullptr;
                        },
                        {in, out, err});
    EXPECT_EQ(status, 2);
    EXPECT_EQ(err.str(), "granite: --ids, --bench, --info and --version need a compiled model executable\n");
  }
  EXPECT_FALSE(loaded);
}

} // namespace
} // namespace granite::runtime
