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
  std::optional<std::string> promptFile; ///< -f FILE (or "-p -": "-", stdin): the CLI reads it into `prompt`
  bool chat = false;
  std::optional<std::string> system;
  std::optional<std::string> toolsFile;
  bool json = false;
  std::optional<std::string> jsonSchemaFile; ///< --json-schema: every reply is a JSON value valid against it
  std::optional<std::string> tokenize;
  std::optional<std::string> detokenize; ///< "1,2,3"
  bool special = false;
  bool rawBytes = false; ///< --raw-bytes: text output is the tokens' bytes, even where they form no UTF-8
  int32_t maxTokens = -1;
  std::vector<std::string> stopStrings;
  SamplingParams sampling;
  bool seedGiven = false;
  int32_t stateCacheMb = 1024; ///< --state-cache-mb: snapshots for multi-turn reuse (0: off)
  int32_t contextSize = 0;     ///< -c/--ctx-size: positions to use (0: the compiled context)

  // The OpenAI-compatible server (runtime/Server.h).
  bool serve = false;
  std::string host = "127.0.0.1";
  int32_t port = 8080;               ///< 0: any free port (the one taken is printed)
  std::optional<std::string> apiKey; ///< --api-key, else GRANITE_API_KEY
  int32_t maxQueue = 16;             ///< --max-queue: requests that may wait behind the running one

  // Checks of the compiled model itself, served by the generated executable's main (runtime/ModelMain.cpp).
  std::optional<std::vector<int32_t>> ids;  ///< --ids: the prompt as token ids (no BOS, no tokenizer)
  std::optional<std::string> logitsFile;    ///< --logits: [prompt][vocab] f32 rows
  int32_t greedy = 0;                       ///< --greedy: tokens to decode after the prompt
  std::optional<std::string> genLogitsFile; ///< --gen-logits: [greedy][vocab] f32 rows
  int32_t chunk = 0;                        ///< --chunk: most prompt tokens per forward call (0: the model's)
  bool bench = false;
  int32_t benchPrompt = 0; ///< 0: 512, less when the context is shorter
  int32_t benchGen = 0;    ///< 0: 128, less when the context is shorter
  int32_t threads = 0;     ///< -t/--threads: kernel worker threads (0: the kernels' default)
  bool info = false;
  bool version = false;
  bool mmap = false; ///< --mmap: the kernels read the mapped weights (runtime/WeightMemory.h)

  /// A mode that needs the compiled model's own interface, not just runtime/Model.h.
  bool compiledModelMode() const { return ids || bench || info || version; }
};

/// Parses "1,2,3" (spaces around ids allowed). Throws UsageError naming `flag`.
std::vector<int32_t> parseIdList(const std::string &flag, const std::string &text);

/// Parses the arguments after the program name. Throws UsageError.
CliOptions parseCliOptions(const std::vector<std::string> &args);

std::string cliHelp(const std::string &programName);

} // namespace granite::runtime
