// The command line of a generated executable: what each flag means, parsing with one-line errors, and --help.
#pragma once

#include "runtime/Sampler.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace granite::runtime {

/// A command line that cannot be run. The message is one line; the program prints it and exits with status 2.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct CliOptions {
  bool help = false;
  std::optional<std::string> prompt;     ///< -p: raw completion, or the first user turn with --chat
  bool chat = false;
  std::optional<std::string> system;
  std::optional<std::string> toolsFile;
  bool json = false;
  std::optional<std::string> tokenize;
  std::optional<std::string> detokenize; ///< "1,2,3"
  bool special = false;
  int32_t maxTokens = -1;
  std::vector<std::string> stopStrings;
  SamplingParams sampling;
  bool seedGiven = false;
};

/// Parses the arguments after the program name. Throws UsageError.
CliOptions parseCliOptions(const std::vector<std::string> &args);

std::string cliHelp(const std::string &programName);

} // namespace granite::runtime
