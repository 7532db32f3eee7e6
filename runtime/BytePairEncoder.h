// Byte-level BPE over token ids: a piece starts as one token per byte, then the adjacent pair with the lowest merge
// rank is merged (the leftmost on a tie) until no pair has a merge, the way llama.cpp and Hugging Face apply
// `merges`. A heap keeps long pieces O(n log n); a cache makes repeated pieces (most words of prose) one lookup.
#pragma once

#include "runtime/Vocabulary.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace granite::runtime {

class BytePairEncoder {
public:
  /// `vocabulary` must have passed validateVocabulary. Throws VocabularyError when a byte has no token.
  explicit BytePairEncoder(const Vocabulary &vocabulary);
  // The cache's keys view into its own arena: moving keeps them valid, copying would not.
  BytePairEncoder(const BytePairEncoder &) = delete;
  BytePairEncoder &operator=(const BytePairEncoder &) = delete;
  BytePairEncoder(BytePairEncoder &&) = default;

  /// Appends the ids of one pre-tokenized piece (raw bytes). Not thread-safe: it updates the cache.
  void encode(std::string_view piece, std::vector<int32_t> &ids);

private:
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  struct CachedIds {
    uint32_t offset;
    uint32_t count;
  };

  void merge(std::string_view piece, std::vector<int32_t> &ids) const;
  void remember(std::string_view piece, const int32_t *ids, size_t count);

  std::array<int32_t, 256> byteTokens_{};
  std::unordered_map<uint64_t, Merge> merges_; ///< key: left id << 32 | right id

  // The cache's keys view into keyArena_, whose capacity never grows, so they stay valid until the cache is
  // cleared as a whole once the arena or the id store is full.
  std::string keyArena_;
  std::vector<int32_t> cachedIds_;
  std::unordered_map<std::string_view, CachedIds> cache_;
};

} // namespace granite::runtime
