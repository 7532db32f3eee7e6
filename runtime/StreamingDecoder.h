// Turns generated ids into text as they arrive, always valid UTF-8: a token that ends inside a multi-byte character
// (byte-level BPE splits emoji and CJK this way) leaves those bytes pending until a later token completes them, and
// bytes that can form no character (a model may sample any byte token) become U+FFFD. With `rawBytes` (the CLI's
// --raw-bytes) it passes each token's bytes through as they are.
#pragma once

#include "runtime/Tokenizer.h"

#include <string>

namespace granite::runtime {

class StreamingDecoder {
public:
  StreamingDecoder(const Tokenizer &tokenizer, bool renderSpecial, bool rawBytes = false)
      : tokenizer_(tokenizer), renderSpecial_(renderSpecial), rawBytes_(rawBytes) {}

  /// The text that became complete with `id` (possibly empty).
  std::string push(int32_t id);
  /// Whatever is still pending (an unfinished sequence at the end of a reply becomes U+FFFD), and resets.
  std::string flush();

private:
  const Tokenizer &tokenizer_;
  bool renderSpecial_;
  bool rawBytes_;
  std::string pending_;
};

} // namespace granite::runtime
