#include "runtime/VocabularyBlob.h"

#include "runtime/BlobCodec.h"
#include "runtime/ByteUnicode.h"
#include "runtime/VocabularyIndex.h"

#include <cstring>

namespace granite::runtime {
namespace {

constexpr char kMagic[4] = {'G', 'R', 'T', 'K'};
constexpr uint32_t kVersion = 1;
using Reader = BlobReader<VocabularyError>;

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
