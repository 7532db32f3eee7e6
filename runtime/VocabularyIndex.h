// Lookups from GGUF token strings to ids, used while validating a Vocabulary and building a Tokenizer, and the
// TokenTable a Tokenizer is built from.
#pragma once

#include "runtime/Vocabulary.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace granite::runtime {

struct ResolvedMerge {
  int32_t left;
  int32_t right;
  int32_t result;
};

class VocabularyIndex {
public:
  /// Indexes the byte-level tokens. Throws VocabularyError on a duplicate token string.
  explicit VocabularyIndex(const Vocabulary &vocabulary);

  /// The id of a byte-level token given in byte-unicode form, or -1.
  int32_t find(std::string_view byteUnicodeText) const;

  /// The ids of merge `rank`: both halves of "left right" and their concatenation must be byte-level tokens.
  ResolvedMerge resolveMerge(size_t rank) const;

private:
  const Vocabulary &vocabulary_;
  std::unordered_map<std::string_view, int32_t> idOfText_;
};

/// A validated vocabulary in the form the Tokenizer uses: every token's decoded bytes (raw bytes for byte-level
/// tokens, the text of the others) back to back, the merges resolved to ids in rank order, and the token of each
/// byte. Built by resolveVocabulary from a Vocabulary, or straight from a vocabulary blob (readTokenTable in
/// runtime/VocabularyBlob.h), which skips the GGUF strings.
struct TokenTable {
  std::string preTokenizer;
  int32_t eosId = -1;
  std::vector<TokenType> types;
  std::vector<char> bytes;           ///< the decoded bytes of every token, in id order
  std::vector<size_t> offsets;       ///< token id's bytes are [offsets[id], offsets[id + 1]); types.size() + 1 entries
  std::vector<ResolvedMerge> merges; ///< rank = index
  std::array<int32_t, 256> byteTokens; ///< the byte-level token of each single byte, -1 where there is none
};

/// validateVocabulary, then the vocabulary's TokenTable: each merge is resolved once, by the validation itself.
TokenTable resolveVocabulary(const Vocabulary &vocabulary);

} // namespace granite::runtime
