#include "NodeReference.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

namespace granite::runtime::testing {
namespace fs = std::filesystem;

std::string nodeReferenceFile(const std::string &script, const std::string &outputName) {
  const fs::path nodeDir = fs::path(GRANITE_SOURCE_DIR) / "scripts" / "node";
  const fs::path package = nodeDir / "node_modules" / "js-tiktoken" / "package.json";
  if (!fs::exists(package))
    throw std::runtime_error(package.string() + " is missing: run scripts/setup (it runs npm ci in scripts/node)");
  // Checked every time, so that a file left by an earlier run cannot hide a machine without node.
  if (std::system("node --version > /dev/null 2>&1") != 0)
    throw std::runtime_error("node is not installed or does not run: run scripts/setup");
  const fs::path outputDir = fs::path(GRANITE_BIN_DIR).parent_path() / "runtime-reference";
  const fs::path output = outputDir / outputName;
  if (fs::exists(output) && fs::last_write_time(output) > fs::last_write_time(nodeDir / script) &&
      fs::last_write_time(output) > fs::last_write_time(package))
    return output.string();

  fs::create_directories(outputDir);
  // ctest runs test cases in parallel: each writes its own temporary file and renames it into place atomically.
  const fs::path temporary = outputDir / (outputName + ".tmp" + std::to_string(getpid()));
  const std::string command =
      "cd '" + nodeDir.string() + "' && node '" + script + "' '" + temporary.string() + "' > /dev/null";
  int status = std::system(command.c_str());
  if (status != 0) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw std::runtime_error("'" + command + "' failed with status " + std::to_string(status) +
                             " (is node installed? scripts/setup installs it)");
  }
  fs::rename(temporary, output);
  return output.string();
}

std::string cl100kRanksFile() { return nodeReferenceFile("export-cl100k.mjs", "cl100k_base.tiktoken"); }

} // namespace granite::runtime::testing
