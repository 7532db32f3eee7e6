// Turns generated ids into text as they arrive without ever emitting part of a UTF-8 character: a token that ends
// inside a multi-byte character (byte-level BPE splits emoji and CJK this way) leaves those bytes pending until a
// later token completes them.
#pragma once

#include "runtime/Tokenizer.h"

#include <string>

namespace granite::runtime {

class StreamingDecoder {
public:
  StreamingDecoder(const Tokenizer &tokenizer, bool renderSpecial)
      : tokenizer_(tokenizer), renderSpecial_(renderSpecial) {}

  /// The text that became complete with `id` (possibly empty).
  std::string push(int32_t id);
  /// Whatever is still pending (an unfinished sequence at the end of a reply), and resets.
  std::string flush();

private:
  const Tokenizer &tokenizer_;
  bool renderSpecial_;
  std::string pending_;
};

} // namespace granite::runtime
