// Token masks for constrained generation: which ids may come next so that the reply stays a prefix of a value of a
// JsonGrammar. The mask is computed by walking a byte trie of the vocabulary with the JsonMatcher, skipping a whole
// subtree as soon as its first byte is rejected, and cached by the matcher's stack (states repeat, e.g. inside a
// string). Only ordinary tokens are in the trie: control and user-defined tokens never appear inside the JSON; the
// end-of-text token is allowed exactly when the value is complete.
#pragma once

#include "runtime/JsonMatcher.h"
#include "runtime/Tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace granite::runtime {

/// A set of ids as bits (bit id of word id / 64); ids past its end are not in it.
using TokenMask = std::vector<uint64_t>;
inline bool maskHas(const TokenMask &mask, int32_t id) {
  size_t word = static_cast<size_t>(id) >> 6;
  return word < mask.size() && (mask[word] >> (id & 63) & 1);
}

/// The ordinary tokens' bytes as a trie in preorder (a node's subtree is the nodes up to its `end`).
class VocabularyTrie {
public:
  /// All ordinary tokens, and apart from it the split that string contents use (plainUpTo, nonPlain).
  explicit VocabularyTrie(const Tokenizer &tokenizer);
  VocabularyTrie(std::vector<std::pair<std::string_view, int32_t>> tokens, int32_t vocabSize);

  struct Node {
    uint32_t end;   ///< one past the node's subtree
    uint32_t ids;   ///< first entry of idList_ for the tokens that end here (up to the next node's)
    uint16_t depth; ///< bytes from the root: 1 for the first byte
    uint8_t byte;
  };
  /// A trie as granitec stored it in the payload (runtime/VocabularyTrieBlob.h checks it before it gets here).
  struct Parts {
    std::vector<Node> nodes;
    std::vector<int32_t> ids;
    int32_t vocabSize = 0;
    std::vector<TokenMask> plainUpTo; ///< empty for a nonPlain trie
    std::unique_ptr<VocabularyTrie> nonPlain;
  };
  explicit VocabularyTrie(Parts parts);
  const std::vector<Node> &nodes() const { return nodes_; }
  /// The ids that end at node `i`.
  const int32_t *idsBegin(size_t i) const { return idList_.data() + nodes_[i].ids; }
  const int32_t *idsEnd(size_t i) const {
    return idList_.data() + (i + 1 < nodes_.size() ? nodes_[i + 1].ids : idList_.size());
  }
  const std::vector<int32_t> &idList() const { return idList_; }
  int32_t vocabSize() const { return vocabSize_; }
  size_t maxDepth() const { return maxDepth_; }

  /// Inside a string most tokens are plain text: whole UTF-8 characters, no quote, backslash or control byte. Such a
  /// token fits wherever its code points fit, whatever else the stack holds, so string states take these masks
  /// (plainUpTo(n): the plain tokens of at most n code points) and walk only the trie of the other tokens.
  const TokenMask &plainUpTo(int64_t codePoints) const {
    return plainUpTo_[static_cast<size_t>(std::min<int64_t>(codePoints, int64_t(plainUpTo_.size()) - 1))];
  }
  const VocabularyTrie &nonPlain() const { return *nonPlain_; }
  /// Whether the trie has the plain-text split (the whole vocabulary's trie has; its nonPlain() has not).
  bool hasPlainSplit() const { return nonPlain_ != nullptr; }
  const std::vector<TokenMask> &plainMasks() const { return plainUpTo_; }

private:
  std::vector<Node> nodes_;
  std::vector<int32_t> idList_;
  int32_t vocabSize_ = 0;
  size_t maxDepth_ = 0;
  std::vector<TokenMask> plainUpTo_;
  std::unique_ptr<VocabularyTrie> nonPlain_;
};

/// One constrained reply: optionally an opening token, the JSON value, optionally a closing token, then EOS. With
/// `openId`/`closeId` (e.g. Granite's `<tool_call>` and `</tool_call>`) the reply is exactly that block.
class JsonConstraint {
public:
  JsonConstraint(std::shared_ptr<const JsonGrammar> grammar, std::shared_ptr<const VocabularyTrie> trie,
                 const Tokenizer &tokenizer, int32_t openId = -1, int32_t closeId = -1);

  /// The ids allowed next. Valid until the next call.
  const TokenMask &allowed();
  /// Takes the sampled id (one that allowed() had). Throws std::logic_error for one it did not.
  void accept(int32_t id);
  /// Whether the reply so far is whole (the value complete, and the closing token given if there is one).
  bool complete() const;

  struct Stats {
    int64_t masks = 0, cacheHits = 0;
  };
  const Stats &stats() const { return stats_; }

private:
  enum class Stage { Open, Value, Done };
  void walk(TokenMask &mask);

  JsonMatcher matcher_;
  std::shared_ptr<const VocabularyTrie> trie_;
  const Tokenizer &tokenizer_;
  int32_t openId_, closeId_, eosId_;
  Stage stage_;
  MatchStack stack_;
  std::unordered_map<std::string, TokenMask> cache_;
  std::vector<MatchStack> scratch_; ///< the matcher's stack after each byte of the trie path being walked
  TokenMask single_;
  Stats stats_;
};

} // namespace granite::runtime
