#include "runtime/StateCache.h"

#include <algorithm>

namespace granite::runtime {

bool StateCache::contains(const std::vector<int32_t> &tokens) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry &entry) { return entry.tokens == tokens; });
}

void StateCache::insert(std::vector<int32_t> tokens, std::unique_ptr<ModelSnapshot> snapshot) {
  if (!snapshot || snapshot->bytes() > capacity_) return;
  entries_.remove_if([&](const Entry &entry) {
    if (entry.tokens != tokens) return false;
    bytes_ -= entry.snapshot->bytes();
    return true;
  });
  bytes_ += snapshot->bytes();
  entries_.push_front(Entry{std::move(tokens), std::move(snapshot)});
  while (bytes_ > capacity_) {
    bytes_ -= entries_.back().snapshot->bytes();
    entries_.pop_back();
  }
}

const StateCache::Entry *StateCache::longestPrefix(const std::vector<int32_t> &prompt, size_t minLength,
                                                   size_t maxLength) {
  ++lookups_;
  auto best = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const std::vector<int32_t> &tokens = it->tokens;
    if (tokens.size() < minLength || tokens.size() > maxLength || tokens.size() > prompt.size()) continue;
    if (best != entries_.end() && tokens.size() <= best->tokens.size()) continue;
    if (std::equal(tokens.begin(), tokens.end(), prompt.begin())) best = it;
  }
  if (best == entries_.end()) return nullptr;
  ++hits_;
  entries_.splice(entries_.begin(), entries_, best); // most recently used; list iterators stay valid
  return &entries_.front();
}

} // namespace granite::runtime
