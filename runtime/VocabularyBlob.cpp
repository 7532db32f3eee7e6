#include "runtime/VocabularyBlob.h"

#include "runtime/ByteUnicode.h"
#include "runtime/VocabularyIndex.h"

#include <cstring>

namespace granite::runtime {
namespace {

constexpr char kMagic[4] = {'G', 'R', 'T', 'K'};
constexpr uint32_t kVersion = 1;

class Writer {
public:
  void bytes(const void *data, size_t size) {
    auto p = static_cast<const uint8_t *>(data);
    out.insert(out.end(), p, p + size);
  }
  void u8(uint8_t v) { out.push_back(v); }
  void fixed32(uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>(v >> shift));
  }
  void varint(uint64_t v) {
    do {
      uint8_t low = v & 0x7F;
      v >>= 7;
      out.push_back(v ? (low | 0x80) : low);
    } while (v);
  }
  void string(std::string_view s) {
    varint(s.size());
    bytes(s.data(), s.size());
  }
  std::vector<uint8_t> out;
};

class Reader {
public:
  Reader(const uint8_t *data, size_t size) : data_(data), size_(size) {}

  const uint8_t *take(size_t count, const char *what) {
    if (count > size_ - pos_)
      throw VocabularyError(std::string("vocabulary blob is truncated in ") + what + " at byte " +
                            std::to_string(pos_));
    const uint8_t *p = data_ + pos_;
    pos_ += count;
    return p;
  }
  uint8_t u8(const char *what) { return *take(1, what); }
  uint32_t fixed32(const char *what) {
    const uint8_t *p = take(4, what);
    return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
  }
  uint64_t varint(const char *what) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8(what);
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return value;
    }
    throw VocabularyError(std::string("vocabulary blob has an overlong number in ") + what);
  }
  /// A count of items that each take at least one byte, so it can never exceed what is left.
  size_t count(const char *what) {
    uint64_t n = varint(what);
    if (n > size_ - pos_)
      throw VocabularyError(std::string("vocabulary blob is truncated in ") + what + " (" + std::to_string(n) +
                            " announced, " + std::to_string(size_ - pos_) + " bytes left)");
    return static_cast<size_t>(n);
  }
  std::string string(const char *what) {
    size_t length = count(what);
    return std::string(reinterpret_cast<const char *>(take(length, what)), length);
  }
  bool atEnd() const { return pos_ == size_; }
  size_t position() const { return pos_; }

private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

} // namespace

std::vector<uint8_t> serializeVocabulary(const Vocabulary &vocabulary) {
  validateVocabulary(vocabulary);
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.fixed32(kVersion);
  w.string(vocabulary.model);
  w.string(vocabulary.preTokenizer);
  for (int32_t id : {vocabulary.bosId, vocabulary.eosId, vocabulary.padId, vocabulary.unknownId})
    w.fixed32(static_cast<uint32_t>(id));
  w.u8(vocabulary.addBos ? 1 : 0);
  w.varint(vocabulary.tokens.size());
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    TokenType type = vocabulary.tokenTypes[id];
    w.u8(static_cast<uint8_t>(type));
    w.string(isByteLevelType(type) ? *byteUnicodeToBytes(vocabulary.tokens[id]) : vocabulary.tokens[id]);
  }
  VocabularyIndex index(vocabulary);
  w.varint(vocabulary.merges.size());
  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) {
    ResolvedMerge m = index.resolveMerge(rank);
    w.varint(static_cast<uint32_t>(m.left));
    w.varint(static_cast<uint32_t>(m.right));
  }
  return std::move(w.out);
}

Vocabulary deserializeVocabulary(const uint8_t *data, size_t size) {
  Reader r(data, size);
  if (std::memcmp(r.take(sizeof kMagic, "the magic"), kMagic, sizeof kMagic) != 0)
    throw VocabularyError("vocabulary blob does not start with \"GRTK\"");
  uint32_t version = r.fixed32("the version");
  if (version != kVersion)
    throw VocabularyError("vocabulary blob has version " + std::to_string(version) + ", this runtime reads " +
                          std::to_string(kVersion));
  Vocabulary v;
  v.model = r.string("the model name");
  v.preTokenizer = r.string("the pre-tokenizer name");
  v.bosId = static_cast<int32_t>(r.fixed32("the bos id"));
  v.eosId = static_cast<int32_t>(r.fixed32("the eos id"));
  v.padId = static_cast<int32_t>(r.fixed32("the padding id"));
  v.unknownId = static_cast<int32_t>(r.fixed32("the unknown id"));
  v.addBos = r.u8("the add-bos flag") != 0;
  size_t tokenCount = r.count("tokens");
  v.tokens.reserve(tokenCount);
  v.tokenTypes.reserve(tokenCount);
  for (size_t id = 0; id < tokenCount; ++id) {
    TokenType type = tokenTypeFromInt(r.u8("a token type"), id);
    std::string bytes = r.string("a token");
    v.tokenTypes.push_back(type);
    v.tokens.push_back(isByteLevelType(type) ? bytesToByteUnicode(bytes) : std::move(bytes));
  }
  size_t mergeCount = r.count("merges");
  v.merges.reserve(mergeCount);
  for (size_t rank = 0; rank < mergeCount; ++rank) {
    uint64_t left = r.varint("a merge"), right = r.varint("a merge");
    if (left >= tokenCount || right >= tokenCount)
      throw VocabularyError("vocabulary blob merge " + std::to_string(rank) + " names a token outside the vocabulary");
    v.merges.push_back(v.tokens[left] + " " + v.tokens[right]);
  }
  if (!r.atEnd())
    throw VocabularyError("vocabulary blob has " + std::to_string(size - r.position()) + " bytes after its end");
  validateVocabulary(v);
  return v;
}

} // namespace granite::runtime
