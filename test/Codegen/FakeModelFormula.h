// The computation of the fake compiled model (FakeModel.cpp), shared with the tests that predict its output. Each
// token's logits depend on the weight table (at a chosen blob offset), on every earlier position's state entry and on
// the token's position, so a wrong weight offset, a lost or stale state, or a wrong start position all change them.
#pragma once

#include <cstdint>

namespace granite::fake {

constexpr int32_t kVocab = 520; // the golden tokenizer's 512 ids plus 8 padding rows
constexpr int32_t kTokenizerSize = 512;
constexpr int32_t kContext = 256; // room for a two-turn chat with the default system prompt
constexpr int32_t kMaxTokens = 8; // small, so a 12-token prompt already takes two calls
constexpr uint64_t kTableBytes = 4096;
constexpr uint64_t kTailBytes = 64;   // after the table, so the blob does not end at the table
constexpr float kPaddingLogit = 1000; // padding rows win any argmax that does not mask them

constexpr uint64_t weightsBytes(uint64_t tableOffset) { return tableOffset + kTableBytes + kTailBytes; }

/// The byte the test's blob writer puts at table[i].
inline uint8_t tableByte(uint64_t i) { return static_cast<uint8_t>((i * 2654435761u) >> 13); }

/// What the model carries from token to token. Zero is the empty sequence, as ModelAbi.h requires.
struct FakeState {
  float running;  // sum of every entry so far, weighted by position + 1
  float previous; // the previous token's entry
};

/// Advances `state` by token `id` at `position` and returns the history value that token's logits use. All sums
/// stay integers below 2^24, so they are exact in float and any summation order agrees.
inline float advance(FakeState &state, const uint8_t *table, int32_t id, int32_t position) {
  float entry = 1.0f + table[(static_cast<uint64_t>(id) * 31 + static_cast<uint64_t>(position) * 7) % kTableBytes];
  state.running += entry * static_cast<float>(position + 1);
  float history = state.running + state.previous;
  state.previous = entry;
  return history;
}

/// The logit of `vocabIndex` for a token at `position` whose history value is `history`.
inline float logit(const uint8_t *table, float history, int32_t position, int32_t vocabIndex) {
  if (vocabIndex >= kTokenizerSize) return kPaddingLogit;
  uint64_t mixed = static_cast<uint64_t>(vocabIndex) * 13 + static_cast<uint64_t>(history);
  return (static_cast<float>(table[mixed % kTableBytes]) - 128.0f) / 16.0f + 0.01f * static_cast<float>(position % 3);
}

} // namespace granite::fake
