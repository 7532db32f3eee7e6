// The last step of granitec: link the generated objects with the runtime into one executable and append the payload
// (weight blob, vocabulary, its byte trie, chat template; format in runtime/Payload.h) that the executable maps at
// startup.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace granite::codegen {

/// Streams a section's bytes to `out`, front to back (forward seeks are fine and leave holes). Returns false with a
/// one-line `error` on failure. writeWeightBlob(module, layout, out, error) has this shape.
using SectionWriter = std::function<bool(std::ostream &out, std::string &error)>;

struct LinkInputs {
  std::vector<std::string> objectFiles; ///< the generated model, the kernel instances, the Halide runtime
  SectionWriter writeWeights;           ///< the weight blob, streamed (it may be larger than memory)
  std::vector<uint8_t> vocabulary;      ///< runtime::serializeVocabulary's blob
  std::vector<uint8_t> vocabularyTrie;  ///< runtime::serializeVocabularyTrie's blob (structured output's masks)
  std::string chatTemplate;             ///< tokenizer.chat_template; empty when the model has none
  std::string outputPath;
  std::string targetTriple;     ///< the family's LLVM triple, which picks the driver and archives; empty: the host's
  bool weightsExternal = false; ///< write the blob to outputPath + ".weights" instead of into the executable
};

/// Runs the system C++ driver (`c++`) on the objects, libGraniteModelMain.a (main), libGraniteRuntime.a and static
/// PCRE2 (for aarch64 on an x86-64 host: aarch64-linux-gnu-g++ and the archives of runtime/cross), then appends the
/// payload. Everything is written under temporary names and renamed into place at the
/// end, so a failure never leaves a half-written OUT. Returns false with a one-line `error` (for a linker failure,
/// its first error line).
bool linkExecutable(const LinkInputs &inputs, std::string &error);

} // namespace granite::codegen
