// Snapshots of the model's state at message boundaries, keyed by the token ids they hold, in a least-recently-used
// cache bounded in bytes. A prompt that starts with a stored prefix resumes from its snapshot and prefills only the
// rest: a recurrent (Mamba2) state cannot be rolled back, so without a snapshot a conversation that does not extend
// exactly what the model holds would be processed again from its first token.
#pragma once

#include "runtime/Model.h"

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

namespace granite::runtime {

class StateCache {
public:
  /// `capacityBytes` 0 turns state reuse off altogether (--state-cache-mb 0): the Generator then prefills every
  /// prompt from its first token, even one that extends what the model holds. That is the reference that reuse is
  /// checked and measured against.
  explicit StateCache(uint64_t capacityBytes) : capacity_(capacityBytes) {}

  struct Entry {
    std::vector<int32_t> tokens;
    std::unique_ptr<ModelSnapshot> snapshot;
  };

  /// Whether a snapshot of `tokens` is already stored (then taking another one is wasted work).
  bool contains(const std::vector<int32_t> &tokens) const;
  /// Stores the snapshot of the state after `tokens` as the most recently used entry, then evicts the least recently
  /// used ones until the cache fits its capacity. A snapshot larger than the whole capacity is not stored.
  void insert(std::vector<int32_t> tokens, std::unique_ptr<ModelSnapshot> snapshot);
  /// The entry with the longest token list that is a prefix of `prompt` of `minLength` to `maxLength` ids, marked
  /// most recently used and counted as a hit; nullptr if none.
  const Entry *longestPrefix(const std::vector<int32_t> &prompt, size_t minLength, size_t maxLength);

  uint64_t capacityBytes() const { return capacity_; }
  uint64_t bytes() const { return bytes_; }
  size_t entries() const { return entries_.size(); }
  /// longestPrefix calls, and those that found an entry.
  uint64_t lookups() const { return lookups_; }
  uint64_t hits() const { return hits_; }

private:
  uint64_t capacity_;
  uint64_t bytes_ = 0;
  uint64_t lookups_ = 0;
  uint64_t hits_ = 0;
  std::list<Entry> entries_; ///< most recently used first
};

} // namespace granite::runtime
