#include "runtime/VocabularyIndex.h"

#include <string>

namespace granite::runtime {

VocabularyIndex::VocabularyIndex(const Vocabulary &vocabulary) : vocabulary_(vocabulary) {
  idOfText_.reserve(vocabulary.tokens.size());
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    if (!isByteLevelType(vocabulary.tokenTypes.at(id))) continue;
    auto [it, inserted] = idOfText_.emplace(vocabulary.tokens[id], static_cast<int32_t>(id));
    if (!inserted)
      throw VocabularyError("tokens " + std::to_string(it->second) + " and " + std::to_string(id) + " are both '" +
                            vocabulary.tokens[id] + "'");
  }
}

int32_t VocabularyIndex::find(std::string_view byteUnicodeText) const {
  auto it = idOfText_.find(byteUnicodeText);
  return it == idOfText_.end() ? -1 : it->second;
}

ResolvedMerge VocabularyIndex::resolveMerge(size_t rank) const {
  const std::string &merge = vocabulary_.merges.at(rank);
  auto fail = [&](const std::string &why) {
    return VocabularyError("merge " + std::to_string(rank) + " '" + merge + "' " + why);
  };
  // Byte-unicode text never contains a plain space, so the single space separates the halves.
  size_t space = merge.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 == merge.size() ||
      merge.find(' ', space + 1) != std::string::npos)
    throw fail("is not two tokens separated by one space");
  std::string_view text(merge);
  ResolvedMerge resolved{find(text.substr(0, space)), find(text.substr(space + 1)),
                         find(std::string(text.substr(0, space)) + std::string(text.substr(space + 1)))};
  if (resolved.left < 0) throw fail("has a left half that is not a token");
  if (resolved.right < 0) throw fail("has a right half that is not a token");
  if (resolved.result < 0) throw fail("produces a string that is not a token");
  return resolved;
}

} // namespace granite::runtime
