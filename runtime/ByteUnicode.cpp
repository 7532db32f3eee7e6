#include "runtime/ByteUnicode.h"

#include "runtime/Utf8.h"

#include <array>
#include <cstdint>

namespace granite::runtime {
namespace {

struct ByteUnicodeTables {
  std::array<uint32_t, 256> codePointOfByte{};
  std::array<int16_t, 324> byteOfCodePoint{}; // the largest code point used is 256 + 67 = 323
};

// Printable Latin-1 bytes map to themselves; the other 68 bytes take 256, 257, ... in byte order.
const ByteUnicodeTables &tables() {
  static const ByteUnicodeTables built = [] {
    ByteUnicodeTables t;
    t.byteOfCodePoint.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t.codePointOfByte[b] = printable ? b : next++;
      t.byteOfCodePoint[t.codePointOfByte[b]] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return built;
}

} // namespace

std::string bytesToByteUnicode(std::string_view bytes) {
  const ByteUnicodeTables &t = tables();
  std::string text;
  text.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) appendUtf8(text, t.codePointOfByte[b]);
  return text;
}

std::optional<std::string> byteUnicodeToBytes(std::string_view text) {
  const ByteUnicodeTables &t = tables();
  std::string bytes;
  bytes.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    std::optional<uint32_t> cp = decodeUtf8(text, pos);
    if (!cp || *cp >= t.byteOfCodePoint.size() || t.byteOfCodePoint[*cp] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(t.byteOfCodePoint[*cp]));
  }
  return bytes;
}

} // namespace granite::runtime
