// Splits text into the pieces that BPE encodes one at a time, with the regex that `tokenizer.ggml.pre` names.
// Compiled once with PCRE2's JIT; invalid UTF-8 never matches and becomes a piece of its own, so no byte is lost.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

class PreTokenizer {
public:
  /// "dbrx" selects the cl100k_base regex; any other name the GPT-2 regex (llama.cpp's default).
  explicit PreTokenizer(const std::string &name);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer &&) noexcept;
  PreTokenizer &operator=(PreTokenizer &&) noexcept;

  /// Appends the pieces of `text` to `pieces`; they are consecutive and cover `text` exactly.
  void split(std::string_view text, std::vector<std::string_view> &pieces) const;

  /// The PCRE2 pattern in use (for messages and tests).
  const std::string &pattern() const { return pattern_; }

private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

/// The regex for a pre-tokenizer name, written for PCRE2. `\s` is spelled out as the whitespace set of
/// JavaScript/tiktoken-js (which includes U+FEFF and excludes U+0085) so that both engines split identically.
std::string preTokenizerPattern(const std::string &name);

} // namespace granite::runtime
