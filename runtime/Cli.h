// The main program of a generated executable, minus the model: flags, completion, the chat REPL, --json replies,
// tokenize/detokenize, the --serve wiring, Ctrl-C handling. The generated main() loads the tokenizer (from the
// embedded vocabulary blob) and calls runCliMain with a function that builds the compiled Model on first use.
#pragma once

#include "runtime/Model.h"
#include "runtime/Tokenizer.h"

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

/// Makes the model. It applies the flags that shape the model itself (-c, -t, --mmap), which it reads from the same
/// command line: runtime/ModelMain.cpp does, a test's loader may ignore them.
using ModelLoader = std::function<std::unique_ptr<Model>()>;

struct CliStreams {
  std::istream &in;
  std::ostream &out;
  std::ostream &err;
  bool interactive = false; ///< stdin is a terminal: show a "> " prompt (on `err`) before each chat turn
};

/// Runs one command line (`args` without the program name) and returns the exit status: 0 success, 1 runtime
/// error, 2 bad command line (one line on `err`). The model is loaded only for -p, -f, --chat and --serve.
/// `trieBlob`: the payload's serializeVocabularyTrie blob, if any, for --json-schema and the server's structured
/// output (without one the trie is built from the tokenizer).
int runCli(const std::string &programName, const std::vector<std::string> &args, Tokenizer &tokenizer,
           const ModelLoader &loadModel, CliStreams streams, std::string_view trieBlob = {});

/// runCli on the process's argv, stdin, stdout and stderr.
int runCliMain(int argc, char **argv, Tokenizer &tokenizer, const ModelLoader &loadModel,
               std::string_view trieBlob = {});

} // namespace granite::runtime
