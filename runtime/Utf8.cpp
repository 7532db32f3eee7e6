#include "runtime/Utf8.h"

namespace granite::runtime {
namespace {

/// Sequence length announced by a lead byte, 0 for a byte that cannot start a sequence.
size_t sequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool isContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

} // namespace

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::optional<uint32_t> decodeUtf8(std::string_view text, size_t &pos) {
  if (pos >= text.size()) return std::nullopt;
  auto lead = static_cast<unsigned char>(text[pos]);
  size_t length = sequenceLength(lead);
  if (length == 0 || pos + length > text.size()) return std::nullopt;
  if (length == 1) {
    ++pos;
    return lead;
  }
  uint32_t cp = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    auto b = static_cast<unsigned char>(text[pos + i]);
    if (!isContinuation(b)) return std::nullopt;
    cp = (cp << 6) | (b & 0x3F);
  }
  static const uint32_t smallestOfLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < smallestOfLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  pos += length;
  return cp;
}

size_t completeUtf8Prefix(std::string_view bytes) {
  // Only the last three bytes can belong to an unfinished sequence.
  size_t size = bytes.size();
  for (size_t back = 1; back <= 3 && back <= size; ++back) {
    auto b = static_cast<unsigned char>(bytes[size - back]);
    if (isContinuation(b)) continue;
    size_t length = sequenceLength(b);
    return length > back ? size - back : size;
  }
  return size;
}

std::string toValidUtf8(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t start = pos;
    if (decodeUtf8(bytes, pos)) {
      text.append(bytes.substr(start, pos - start));
      continue;
    }
    appendUtf8(text, 0xFFFD);
    for (++pos; pos < bytes.size() && isContinuation(static_cast<unsigned char>(bytes[pos])); ++pos) {
    }
  }
  return text;
}

bool isValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size())
    if (!decodeUtf8(text, pos)) return false;
  return true;
}

} // namespace granite::runtime
