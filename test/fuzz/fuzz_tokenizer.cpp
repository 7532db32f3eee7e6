// Tokenizer encode and decode on the golden vocabulary (pre-tokenizer regex, BPE, added tokens) and the streaming
// decoder. The first input byte picks the literal spans of encodeTemplate; the rest is the text, also read as
// token ids (two bytes each). Checked: encoding is byte exact, and streamed text is always valid UTF-8 (equal to
// the text when the text is valid UTF-8).
#include "FuzzSupport.h"

#include "runtime/StreamingDecoder.h"
#include "runtime/Utf8.h"

using namespace granite;

namespace {

std::string streamed(const runtime::Tokenizer &tokenizer, const std::vector<int32_t> &ids, bool renderSpecial) {
  runtime::StreamingDecoder decoder(tokenizer, renderSpecial);
  std::string text;
  for (int32_t id : ids) {
    const std::string piece = decoder.push(id);
    fuzz::require(runtime::isValidUtf8(piece), "every streamed piece is valid UTF-8");
    text += piece;
  }
  const std::string rest = decoder.flush();
  fuzz::require(runtime::isValidUtf8(rest), "the flushed rest is valid UTF-8");
  return text + rest;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  runtime::Tokenizer &tokenizer = fuzz::goldenTokenizer();
  const uint8_t spanSeed = data[0];
  const std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);

  const std::vector<int32_t> plain = tokenizer.encode(text, false);
  fuzz::require(tokenizer.decode(plain, false) == text, "decode(encode(text, false)) == text");
  const std::vector<int32_t> special = tokenizer.encode(text, true);
  fuzz::require(tokenizer.decode(special, true) == text, "decode(encode(text, true), true) == text");

  // Literal spans every (spanSeed % 7 + 2)th byte, of spanSeed / 32 + 1 bytes: ascending, inside the text.
  std::vector<runtime::TextSpan> spans;
  const size_t stride = spanSeed % 7 + 2, length = spanSeed / 32 + 1;
  for (size_t offset = 0; offset + length <= text.size(); offset += stride + length) spans.push_back({offset, length});
  fuzz::require(tokenizer.decode(tokenizer.encodeTemplate(text, spans), true) == text,
                "decode(encodeTemplate(text)) == text");

  const bool validText = runtime::isValidUtf8(text);
  const std::string streamedText = streamed(tokenizer, special, true);
  fuzz::require(!validText || streamedText == text, "streaming valid UTF-8 gives it back");

  // Any ids the model may sample (the bytes as little-endian pairs, taken modulo the vocabulary size).
  std::vector<int32_t> sampled;
  for (size_t i = 0; i + 1 < text.size(); i += 2)
    sampled.push_back((uint8_t(text[i]) | uint8_t(text[i + 1]) << 8) % tokenizer.size());
  streamed(tokenizer, sampled, spanSeed & 1);
  tokenizer.decode(sampled, spanSeed & 2);
  return 0;
}
