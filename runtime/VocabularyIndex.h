// Lookups from GGUF token strings to ids, used while validating a Vocabulary and building a Tokenizer.
#pragma once

#include "runtime/Vocabulary.h"

#include <string_view>
#include <unordered_map>

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

} // namespace granite::runtime
