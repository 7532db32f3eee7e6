#include "runtime/BytePairEncoder.h"

#include <queue>

namespace granite::runtime {
namespace {

constexpr size_t kCacheArenaBytes = 1 << 22;
constexpr size_t kCacheMaxIds = 1 << 21;
constexpr size_t kLongestCachedPiece = 128;

uint64_t pairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

} // namespace

BytePairEncoder::BytePairEncoder(const std::array<int32_t, 256> &byteTokens, const std::vector<ResolvedMerge> &merges)
    : byteTokens_(byteTokens) {
  for (int b = 0; b < 256; ++b)
    if (byteTokens_[b] < 0)
      throw VocabularyError("the vocabulary has no token for byte " + std::to_string(b) +
                            ", so byte-level BPE cannot encode every text");
  int bits = 4;
  while ((size_t{1} << bits) < 2 * merges.size()) ++bits;
  merges_.assign(size_t{1} << bits, MergeSlot{kEmptyKey, 0, 0});
  mergeShift_ = 64 - bits;
  const size_t mask = merges_.size() - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const ResolvedMerge &m = merges[rank];
    const uint64_t key = pairKey(m.left, m.right);
    size_t slot = (key * 0x9E3779B97F4A7C15ull) >> mergeShift_;
    while (merges_[slot].key != kEmptyKey && merges_[slot].key != key) slot = (slot + 1) & mask;
    // A repeated merge keeps its first (lowest) rank, as a rank table built from the list would.
    if (merges_[slot].key == kEmptyKey) merges_[slot] = {key, static_cast<uint32_t>(rank), m.result};
  }
  keyArena_.reserve(kCacheArenaBytes);
}

void BytePairEncoder::encode(std::string_view piece, std::vector<int32_t> &ids) {
  if (piece.size() == 1) {
    ids.push_back(byteTokens_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  auto cached = cache_.find(piece);
  if (cached != cache_.end()) {
    ids.insert(ids.end(), cachedIds_.begin() + cached->second.offset,
               cachedIds_.begin() + cached->second.offset + cached->second.count);
    return;
  }
  size_t first = ids.size();
  merge(piece, ids);
  if (piece.size() <= kLongestCachedPiece) remember(piece, ids.data() + first, ids.size() - first);
}

void BytePairEncoder::remember(std::string_view piece, const int32_t *ids, size_t count) {
  if (keyArena_.size() + piece.size() > kCacheArenaBytes || cachedIds_.size() + count > kCacheMaxIds) {
    cache_.clear();
    keyArena_.clear();
    cachedIds_.clear();
  }
  std::string_view key(keyArena_.data() + keyArena_.size(), piece.size());
  keyArena_.append(piece);
  cache_.emplace(key, CachedIds{static_cast<uint32_t>(cachedIds_.size()), static_cast<uint32_t>(count)});
  cachedIds_.insert(cachedIds_.end(), ids, ids + count);
}

void BytePairEncoder::merge(std::string_view piece, std::vector<int32_t> &ids) const {
  // Symbols form a doubly linked list over the piece; a merged-away symbol gets id -1.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  struct Candidate {
    uint32_t rank;
    int32_t left; ///< symbol index; the leftmost wins among equal ranks
    int32_t leftId;
    int32_t rightId;
    int32_t result;
    bool operator>(const Candidate &o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i)
    symbols[i] = {byteTokens_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};

  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto offer = [&](int32_t left) {
    if (left < 0) return;
    int32_t right = symbols[left].next;
    if (right < 0) return;
    if (const MergeSlot *m = findMerge(pairKey(symbols[left].id, symbols[right].id)))
      queue.push({m->rank, left, symbols[left].id, symbols[right].id, m->result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) offer(i);

  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol &left = symbols[c.left];
    // Stale entries: one side was merged into something else since this pair was offered.
    if (left.id != c.leftId || left.next < 0 || symbols[left.next].id != c.rightId) continue;
    Symbol &right = symbols[left.next];
    left.id = c.result;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    offer(left.prev);
    offer(c.left);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) ids.push_back(symbols[i].id);
}

} // namespace granite::runtime
