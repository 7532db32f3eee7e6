// A synthesized model goes through the whole toolchain: `granitec synth` (h-350m, 2 layers, f32), `granitec
// compile`, then the executable decodes greedily and tokenizes with cl100k's ids.
#include <array>
#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct CommandResult {
  int status;
  std::string output; ///< stdout
};

CommandResult run(const std::string &command) {
  FILE *pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  std::string output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  return {::pclose(pipe), output};
}

std::string quoted(const fs::path &p) { return "'" + p.string() + "'"; }

TEST(SynthCompile, SynthesizedHybridCompilesDecodesAndTokenizes) {
  const fs::path dir = fs::temp_directory_path() / ("granite-synth-compile-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path model = dir / "h-350m-2.gguf", executable = dir / "h-350m-2";
  const std::string granitec = quoted(fs::path(GRANITE_BIN_DIR) / "granitec");

  ASSERT_EQ(run(granitec + " synth --like h-350m --dtype f32 --layers 2 --seed 3 -o " + quoted(model)).status, 0);
  ASSERT_EQ(run(granitec + " compile " + quoted(model) + " -o " + quoted(executable)).status, 0);

  const CommandResult greedy = run(quoted(executable) + " --ids 9906,1917 --greedy 4");
  ASSERT_EQ(greedy.status, 0);
  std::istringstream ids(greedy.output);
  std::vector<long> decoded;
  for (long id; ids >> id;) decoded.push_back(id);
  ASSERT_EQ(decoded.size(), 4u) << greedy.output;
  for (long id : decoded) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 100352);
  }

  const CommandResult tokens = run(quoted(executable) + " --tokenize 'Hello world'");
  ASSERT_EQ(tokens.status, 0);
  EXPECT_EQ(tokens.output.substr(0, tokens.output.find_last_not_of('\n') + 1), "9906 1917");
  fs::remove_all(dir);
}

} // namespace
