// Byte-level BPE over token ids: a piece starts as one token per byte, then the adjacent pair with the lowest merge
// rank is merged (the leftmost on a tie) until no pair has a merge, the way llama.cpp and Hugging Face apply
// `merges`. A heap keeps long pieces O(n log n); a cache makes repeated pieces (most words of prose) one lookup.
#pragma once

#include "runtime/VocabularyIndex.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace granite::runtime {

class BytePairEncoder {
public:
  /// `byteTokens` gives each byte's token (-1: none), `merges` the resolved merges in rank order (a TokenTable's,
  /// runtime/VocabularyIndex.h). Throws VocabularyError when a byte has no token.
  BytePairEncoder(const std::array<int32_t, 256> &byteTokens, const std::vector<ResolvedMerge> &merges);
  // The cache's keys view into its own arena: moving keeps them valid, copying would not.
  BytePairEncoder(const BytePairEncoder &) = delete;
  BytePairEncoder &operator=(const BytePairEncoder &) = delete;
  BytePairEncoder(BytePairEncoder &&) = default;

  /// Appends the ids of one pre-tokenized piece (raw bytes). Not thread-safe: it updates the cache.
  void encode(std::string_view piece, std::vector<int32_t> &ids);

private:
  /// One slot of the merge table: open addressing with linear probing, keyed by left id << 32 | right id.
  struct MergeSlot {
    uint64_t key; ///< kEmptyKey when free (ids are non-negative, so no pair has it)
    uint32_t rank;
    int32_t result;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  struct CachedIds {
    uint32_t offset;
    uint32_t count;
  };

  void merge(std::string_view piece, std::vector<int32_t> &ids) const;
  /// The merge of the pair `key`, or nullptr.
  const MergeSlot *findMerge(uint64_t key) const {
    for (size_t slot = (key * 0x9E3779B97F4A7C15ull) >> mergeShift_;; slot = (slot + 1) & (merges_.size() - 1)) {
      const MergeSlot &entry = merges_[slot];
      if (entry.key == key) return &entry;
      if (entry.key == kEmptyKey) return nullptr;
    }
  }
  void remember(std::string_view piece, const int32_t *ids, size_t count);

  std::array<int32_t, 256> byteTokens_{};
  std::vector<MergeSlot> merges_; ///< a power of two of slots, at most half of them used
  int mergeShift_ = 64;           ///< 64 - log2(merges_.size())

  // The cache's keys view into keyArena_, whose capacity never grows, so they stay valid until the cache is
  // cleared as a whole once the arena or the id store is full.
  std::string keyArena_;
  std::vector<int32_t> cachedIds_;
  std::unordered_map<std::string_view, CachedIds> cache_;
};

} // namespace granite::runtime
