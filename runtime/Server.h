// `--serve`: the compiled model behind an OpenAI-compatible HTTP API (cpp-httplib, nlohmann-json). One model, one
// generation at a time from a bounded queue; multi-turn conversations resume from the state cache.
#pragma once

#include "runtime/Model.h"
#include "runtime/Sampler.h"
#include "runtime/StateCache.h"
#include "runtime/Tokenizer.h"
#include "runtime/VocabularyTrieBlob.h"

#include <cstdint>
#include <iosfwd>
#include <string>

namespace granite::runtime {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int32_t port = 8080;             ///< 0: any free port
  std::string apiKey;              ///< empty: no key needed
  std::string modelName;           ///< the id /v1/models lists and every response carries
  SamplingParams defaults;         ///< sampling of requests that do not set a field (the CLI's sampling flags)
  int32_t maxQueue = 16;           ///< requests waiting behind the running one; more are refused with 503
  uint64_t maxBodyBytes = 8 << 20; ///< larger request bodies get 413
};

/// Serves until SIGTERM or SIGINT, then finishes or cancels in-flight work and returns the exit status (0). Prints
/// "listening on http://HOST:PORT" on `log` once the socket is bound (with the real port when `options.port` is 0).
/// `tries` gives the vocabulary's trie for structured output (response_format, tool_choice).
int runServer(const ServerOptions &options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, Model &model,
              StateCache &cache, std::ostream &log);

} // namespace granite::runtime
