#include "runtime/VocabularyBlob.h"

#include "runtime/BlobCodec.h"
#include "runtime/ByteUnicode.h"
#include "runtime/VocabularyIndex.h"

#include <cstring>
#include <functional>

namespace granite::runtime {
namespace {

constexpr char kMagic[4] = {'G', 'R', 'T', 'K'};
constexpr uint32_t kVersion = 1;
using Reader = BlobReader<VocabularyError>;

/// The ids of the byte-level tokens by their raw bytes: open addressing with linear probing over `table`'s bytes.
class RawBytesIndex {
public:
  explicit RawBytesIndex(const TokenTable &table) : table_(table) {
    int bits = 4;
    while ((size_t{1} << bits) < 2 * table.types.size()) ++bits;
    slots_.assign(size_t{1} << bits, -1);
  }
  /// Adds `id`; false when a token with the same bytes is there already.
  bool insert(int32_t id) {
    std::string_view bytes = bytesOf(id);
    for (size_t slot = first(bytes);; slot = next(slot)) {
      if (slots_[slot] < 0) {
        slots_[slot] = id;
        return true;
      }
      if (bytesOf(slots_[slot]) == bytes) return false;
    }
  }
  int32_t find(std::string_view bytes) const {
    for (size_t slot = first(bytes);; slot = next(slot)) {
      if (slots_[slot] < 0) return -1;
      if (bytesOf(slots_[slot]) == bytes) return slots_[slot];
    }
  }

private:
  std::string_view bytesOf(int32_t id) const {
    return {table_.bytes.data() + table_.offsets[id], table_.offsets[id + 1] - table_.offsets[id]};
  }
  size_t first(std::string_view bytes) const { return std::hash<std::string_view>()(bytes) & (slots_.size() - 1); }
  size_t next(size_t slot) const { return (slot + 1) & (slots_.size() - 1); }

  const TokenTable &table_;
  std::vector<int32_t> slots_;
};

} // namespace

std::vector<uint8_t> serializeVocabulary(const Vocabulary &vocabulary) {
  validateVocabulary(vocabulary);
  BlobWriter w;
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
  Reader r(data, size, "vocabulary blob");
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
  r.expectEnd();
  validateVocabulary(v);
  return v;
}

} // namespace granite::runtime

namespace granite::runtime {

std::optional<TokenTable> readTokenTable(const uint8_t *data, size_t size) {
  try {
    Reader r(data, size, "vocabulary blob");
    if (std::memcmp(r.take(sizeof kMagic, "the magic"), kMagic, sizeof kMagic) != 0) return std::nullopt;
    if (r.fixed32("the version") != kVersion) return std::nullopt;
    if (r.string("the model name") != "gpt2") return std::nullopt;
    TokenTable table;
    table.preTokenizer = r.string("the pre-tokenizer name");
    int32_t specialIds[4];
    for (int32_t &id : specialIds) id = static_cast<int32_t>(r.fixed32("a special id"));
    table.eosId = specialIds[1];
    r.u8("the add-bos flag");
    const size_t tokenCount = r.count("tokens");
    if (tokenCount == 0) return std::nullopt;
    for (int32_t id : specialIds)
      if (id < -1 || id >= static_cast<int64_t>(tokenCount)) return std::nullopt;
    table.types.reserve(tokenCount);
    table.offsets.reserve(tokenCount + 1);
    table.offsets.push_back(0);
    table.bytes.reserve(r.position() < size ? size - r.position() : 0);
    for (size_t id = 0; id < tokenCount; ++id) {
      table.types.push_back(tokenTypeFromInt(r.u8("a token type"), id));
      const size_t length = r.count("a token");
      const uint8_t *bytes = r.take(length, "a token");
      table.bytes.insert(table.bytes.end(), bytes, bytes + length);
      table.offsets.push_back(table.bytes.size());
    }
    RawBytesIndex index(table);
    for (size_t id = 0; id < tokenCount; ++id)
      if (isByteLevelType(table.types[id]) && !index.insert(static_cast<int32_t>(id))) return std::nullopt;
    const size_t mergeCount = r.count("merges");
    table.merges.reserve(mergeCount);
    std::string joined;
    for (size_t rank = 0; rank < mergeCount; ++rank) {
      const uint64_t left = r.varint("a merge"), right = r.varint("a merge");
      if (left >= tokenCount || right >= tokenCount) return std::nullopt;
      // GGUF resolves "left right" by text; for two non-empty byte-level tokens (whose text has no space) that is
      // the two ids themselves, as byte-level token texts are unique.
      if (!isByteLevelType(table.types[left]) || !isByteLevelType(table.types[right])) return std::nullopt;
      const size_t leftStart = table.offsets[left], leftEnd = table.offsets[left + 1];
      const size_t rightStart = table.offsets[right], rightEnd = table.offsets[right + 1];
      if (leftStart == leftEnd || rightStart == rightEnd) return std::nullopt;
      joined.assign(table.bytes.data() + leftStart, leftEnd - leftStart);
      joined.append(table.bytes.data() + rightStart, rightEnd - rightStart);
      const int32_t result = index.find(joined);
      if (result < 0) return std::nullopt;
      table.merges.push_back({static_cast<int32_t>(left), static_cast<int32_t>(right), result});
    }
    if (!r.atEnd()) return std::nullopt;
    for (int b = 0; b < 256; ++b) {
      const char byte = static_cast<char>(b);
      table.byteTokens[b] = index.find(std::string_view(&byte, 1));
      if (table.byteTokens[b] < 0) return std::nullopt;
    }
    return table;
  } catch (const VocabularyError &) {
    return std::nullopt; // truncated, or a token type outside 1..6
  }
}

} // namespace granite::runtime
