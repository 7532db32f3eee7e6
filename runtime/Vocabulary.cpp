#include "runtime/Vocabulary.h"

#include "runtime/ByteUnicode.h"
#include "runtime/VocabularyIndex.h"

namespace granite::runtime {

bool Vocabulary::operator==(const Vocabulary &other) const {
  return model == other.model && preTokenizer == other.preTokenizer && tokens == other.tokens &&
         tokenTypes == other.tokenTypes && merges == other.merges && bosId == other.bosId && eosId == other.eosId &&
         padId == other.padId && unknownId == other.unknownId && addBos == other.addBos;
}

TokenType tokenTypeFromInt(int32_t value, size_t tokenIndex) {
  if (value < static_cast<int32_t>(TokenType::Normal) || value > static_cast<int32_t>(TokenType::Byte))
    throw VocabularyError("token " + std::to_string(tokenIndex) + " has token type " + std::to_string(value) +
                          ", expected 1..6");
  return static_cast<TokenType>(value);
}

namespace {

/// Everything validateVocabulary checks but the merges.
void checkTokens(const Vocabulary &vocabulary) {
  if (vocabulary.model != "gpt2")
    throw VocabularyError("tokenizer model '" + vocabulary.model + "' is not supported (only byte-level BPE 'gpt2')");
  if (vocabulary.tokens.empty()) throw VocabularyError("the vocabulary has no tokens");
  if (vocabulary.tokenTypes.size() != vocabulary.tokens.size())
    throw VocabularyError("the vocabulary has " + std::to_string(vocabulary.tokens.size()) + " tokens but " +
                          std::to_string(vocabulary.tokenTypes.size()) + " token types");
  auto checkId = [&](int32_t id, const char *what) {
    if (id < -1 || id >= vocabulary.size())
      throw VocabularyError(std::string(what) + " id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(vocabulary.size()) + " tokens");
  };
  checkId(vocabulary.bosId, "bos");
  checkId(vocabulary.eosId, "eos");
  checkId(vocabulary.padId, "padding");
  checkId(vocabulary.unknownId, "unknown");
  for (size_t i = 0; i < vocabulary.tokens.size(); ++i) {
    if (static_cast<int32_t>(vocabulary.tokenTypes[i]) < 1 || static_cast<int32_t>(vocabulary.tokenTypes[i]) > 6)
      throw VocabularyError("token " + std::to_string(i) + " has an invalid token type");
    if (isByteLevelType(vocabulary.tokenTypes[i]) && !byteUnicodeToBytes(vocabulary.tokens[i]))
      throw VocabularyError("normal token " + std::to_string(i) + " '" + vocabulary.tokens[i] +
                            "' is not in GPT-2 byte-unicode form");
  }
}

} // namespace

void validateVocabulary(const Vocabulary &vocabulary) {
  checkTokens(vocabulary);
  VocabularyIndex index(vocabulary);
  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) index.resolveMerge(rank);
}

TokenTable resolveVocabulary(const Vocabulary &vocabulary) {
  checkTokens(vocabulary);
  VocabularyIndex index(vocabulary);
  TokenTable table;
  table.merges.reserve(vocabulary.merges.size());
  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) table.merges.push_back(index.resolveMerge(rank));
  table.preTokenizer = vocabulary.preTokenizer;
  table.eosId = vocabulary.eosId;
  table.types = vocabulary.tokenTypes;
  table.offsets.reserve(vocabulary.tokens.size() + 1);
  table.offsets.push_back(0);
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    const std::string &token = vocabulary.tokens[id];
    if (isByteLevelType(vocabulary.tokenTypes[id])) {
      std::string bytes = *byteUnicodeToBytes(token);
      table.bytes.insert(table.bytes.end(), bytes.begin(), bytes.end());
    } else {
      table.bytes.insert(table.bytes.end(), token.begin(), token.end());
    }
    table.offsets.push_back(table.bytes.size());
  }
  for (int b = 0; b < 256; ++b)
    table.byteTokens[b] = index.find(bytesToByteUnicode(std::string(1, static_cast<char>(b))));
  return table;
}

} // namespace granite::runtime
