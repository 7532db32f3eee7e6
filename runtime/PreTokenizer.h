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

private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

} // namespace granite::runtime
