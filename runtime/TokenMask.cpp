#include "runtime/TokenMask.h"

#include <algorithm>
#include <stdexcept>

namespace granite::runtime {
namespace {

/// Masks kept per constraint; past this the cache starts over (12.5 KiB each for Granite's vocabulary).
constexpr size_t kMaxCachedMasks = 2048;

void setBit(TokenMask &mask, int32_t id) { mask[static_cast<size_t>(id) >> 6] |= uint64_t(1) << (id & 63); }

} // namespace

namespace {

std::vector<std::pair<std::string_view, int32_t>> ordinaryTokens(const Tokenizer &tokenizer) {
  std::vector<std::pair<std::string_view, int32_t>> tokens;
  for (int32_t id = 0; id < tokenizer.size(); ++id) {
    if (tokenizer.isUnused(id) || tokenizer.isEndOfGeneration(id)) continue;
    std::string_view bytes = tokenizer.tokenBytes(id, /*renderSpecial=*/false);
    // Control tokens decode to nothing; user-defined ones (<tool_call>) to their text, but are not JSON.
    if (bytes.empty() || tokenizer.findAddedToken(bytes) == id) continue;
    tokens.emplace_back(bytes, id);
  }
  return tokens;
}

/// The code points of `bytes` if it is plain string text (as JsonMatcher reads a string body), else -1.
int64_t plainCodePoints(std::string_view bytes) {
  static const JsonMatcher matcher(compileJsonSchema(nlohmann::ordered_json{{"type", "string"}}));
  if (bytes.find_first_of("\"\\") != std::string_view::npos) return -1;
  MatchStack stack = matcher.start();
  matcher.advance(stack, '"');
  for (char byte : bytes)
    if (!matcher.advance(stack, uint8_t(byte))) return -1;
  if (stack.back().c != 0) return -1; // ends inside a character
  return std::count_if(bytes.begin(), bytes.end(), [](char b) { return (uint8_t(b) & 0xC0) != 0x80; });
}

} // namespace

VocabularyTrie::VocabularyTrie(const Tokenizer &tokenizer)
    : VocabularyTrie(ordinaryTokens(tokenizer), tokenizer.size()) {
  std::vector<std::pair<std::string_view, int32_t>> others;
  const size_t words = (static_cast<size_t>(vocabSize_) + 63) / 64;
  plainUpTo_.assign(1, TokenMask(words));
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const int32_t *id = idsBegin(i); id != idsEnd(i); ++id) {
      std::string_view bytes = tokenizer.tokenBytes(*id, false);
      int64_t length = plainCodePoints(bytes);
      if (length < 0) {
        others.emplace_back(bytes, *id);
        continue;
      }
      while (plainUpTo_.size() <= static_cast<size_t>(length)) plainUpTo_.push_back(TokenMask(words));
      setBit(plainUpTo_[static_cast<size_t>(length)], *id);
    }
  for (size_t n = 1; n < plainUpTo_.size(); ++n)
    for (size_t w = 0; w < words; ++w) plainUpTo_[n][w] |= plainUpTo_[n - 1][w];
  nonPlain_ = std::make_unique<VocabularyTrie>(std::move(others), vocabSize_);
}

VocabularyTrie::VocabularyTrie(std::vector<std::pair<std::string_view, int32_t>> tokens, int32_t vocabSize)
    : vocabSize_(vocabSize) {
  std::sort(tokens.begin(), tokens.end());
  std::string_view previous;
  std::vector<size_t> open; // the nodes on the current path, by depth - 1
  for (const auto &[bytes, id] : tokens) {
    size_t common =
        std::mismatch(previous.begin(), previous.end(), bytes.begin(), bytes.end()).first - previous.begin();
    if (common == bytes.size() && common == previous.size()) { // the same bytes as the previous token
      idList_.push_back(id);
      continue;
    }
    for (size_t depth = open.size(); depth > common; --depth) nodes_[open[depth - 1]].end = uint32_t(nodes_.size());
    open.resize(common);
    for (size_t depth = common; depth < bytes.size(); ++depth) {
      open.push_back(nodes_.size());
      nodes_.push_back({0, uint32_t(idList_.size()), uint16_t(depth + 1), uint8_t(bytes[depth])});
    }
    idList_.push_back(id);
    maxDepth_ = std::max(maxDepth_, bytes.size());
    previous = bytes;
  }
  for (size_t node : open) nodes_[node].end = uint32_t(nodes_.size());
}

VocabularyTrie::VocabularyTrie(Parts parts)
    : nodes_(std::move(parts.nodes)), idList_(std::move(parts.ids)), vocabSize_(parts.vocabSize),
      plainUpTo_(std::move(parts.plainUpTo)), nonPlain_(std::move(parts.nonPlain)) {
  for (const Node &node : nodes_) maxDepth_ = std::max<size_t>(maxDepth_, node.depth);
}

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonGrammar> grammar, std::shared_ptr<const VocabularyTrie> trie,
                               const Tokenizer &tokenizer, int32_t openId, int32_t closeId)
    : matcher_(std::move(grammar)), trie_(std::move(trie)), tokenizer_(tokenizer), openId_(openId), closeId_(closeId),
      eosId_(tokenizer.eosId()), stage_(openId >= 0 ? Stage::Open : Stage::Value), stack_(matcher_.start()),
      scratch_(trie_->maxDepth() + 1), single_((static_cast<size_t>(trie_->vocabSize()) + 63) / 64) {}

bool JsonConstraint::complete() const {
  if (stage_ == Stage::Done) return true;
  return stage_ == Stage::Value && closeId_ < 0 && matcher_.complete(stack_);
}

void JsonConstraint::walk(TokenMask &mask) {
  const VocabularyTrie *trie = trie_.get();
  if (int64_t room = matcher_.stringRoom(stack_); room >= 0) { // see VocabularyTrie::plainUpTo
    const TokenMask &plain = trie->plainUpTo(room);
    for (size_t w = 0; w < mask.size(); ++w) mask[w] |= plain[w];
    trie = &trie->nonPlain();
  }
  const std::vector<VocabularyTrie::Node> &nodes = trie->nodes();
  scratch_[0] = stack_;
  for (size_t i = 0; i < nodes.size();) {
    const VocabularyTrie::Node &node = nodes[i];
    MatchStack &state = scratch_[node.depth];
    state = scratch_[node.depth - 1];
    if (!matcher_.advance(state, node.byte)) {
      i = node.end;
      continue;
    }
    for (const int32_t *id = trie->idsBegin(i); id != trie->idsEnd(i); ++id) setBit(mask, *id);
    ++i;
  }
  if (matcher_.complete(stack_)) setBit(mask, closeId_ >= 0 ? closeId_ : eosId_);
}

const TokenMask &JsonConstraint::allowed() {
  ++stats_.masks;
  if (stage_ != Stage::Value) {
    std::fill(single_.begin(), single_.end(), 0);
    setBit(single_, stage_ == Stage::Open ? openId_ : eosId_);
    return single_;
  }
  std::string key(reinterpret_cast<const char *>(stack_.data()), stack_.size() * sizeof(MatchFrame));
  if (auto found = cache_.find(key); found != cache_.end()) {
    ++stats_.cacheHits;
    return found->second;
  }
  if (cache_.size() >= kMaxCachedMasks) cache_.clear();
  TokenMask &mask = cache_[std::move(key)];
  mask.assign(single_.size(), 0);
  walk(mask);
  return mask;
}

void JsonConstraint::accept(int32_t id) {
  auto refuse = [&]() {
    throw std::logic_error("the constrained reply cannot continue with token " + std::to_string(id));
  };
  switch (stage_) {
  case Stage::Open:
    if (id != openId_) refuse();
    stage_ = Stage::Value;
    return;
  case Stage::Value:
    if ((id == closeId_ && closeId_ >= 0) || (id == eosId_ && closeId_ < 0)) {
      if (!matcher_.complete(stack_)) refuse();
      stage_ = Stage::Done;
      return;
    }
    if (id < 0 || id >= tokenizer_.size() || tokenizer_.isUnused(id)) refuse();
    {
      std::string_view bytes = tokenizer_.tokenBytes(id, /*renderSpecial=*/false);
      if (bytes.empty() || tokenizer_.findAddedToken(bytes) == id) refuse(); // not in the trie
      for (char byte : bytes)
        if (!matcher_.advance(stack_, uint8_t(byte))) refuse();
    }
    return;
  case Stage::Done:
    if (id != eosId_) refuse();
    return;
  }
}

} // namespace granite::runtime
