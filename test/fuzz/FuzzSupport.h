// Shared pieces of the libFuzzer harnesses: splitting an input into parts, scratch files for readers that take a
// path, the golden 512-token tokenizer, and the check that turns a broken promise into a crash libFuzzer records.
#pragma once

#include "Codegen/GGUFVocabulary.h"
#include "Frontend/GGUF.h"
#include "runtime/Tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace granite::fuzz {

/// A property the code under test promises (documented behaviour, not just "no crash"): abort when it fails.
inline void require(bool holds, const char *what) {
  if (!holds) {
    std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

/// The input before the first NUL byte, and the rest after it (empty when there is none).
inline std::pair<std::string_view, std::string_view> splitAtNul(const uint8_t *data, size_t size) {
  std::string_view all(reinterpret_cast<const char *>(data), size);
  const size_t nul = all.find('\0');
  if (nul == std::string_view::npos) return {all, {}};
  return {all.substr(0, nul), all.substr(nul + 1)};
}

/// A per-process scratch path under $TMPDIR (or /tmp), for readers that only take a path.
inline std::string scratchPath(const char *name) {
  const char *tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/granite-fuzz-" + std::to_string(getpid()) + "-" + name;
}

inline void writeFile(const std::string &path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  require(static_cast<bool>(out.flush()), "the scratch file could be written");
}

/// The tokenizer of the golden dense model (512 ids: byte tokens, merges, Granite's special tokens), loaded once.
inline runtime::Tokenizer &goldenTokenizer() {
  static runtime::Tokenizer tokenizer(
      codegen::vocabularyFromGGUF(gguf::File::open(GRANITE_GOLDEN_DIR "/models/dense-q8_0.gguf")));
  return tokenizer;
}

} // namespace granite::fuzz
