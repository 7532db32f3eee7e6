// A pushdown automaton over bytes for the values of a JsonGrammar (runtime/JsonSchema.h): a stack of small frames,
// one per open value. advance() takes one byte or rejects it, so a token is allowed exactly when all its bytes are.
// The stack is plain bytes (no padding), so that it can key a cache of token masks.
//
// What it enforces beyond JSON syntax: valid UTF-8 in strings (a \u escape may not start with d/D, so no lone
// surrogates), lengths in code points, item counts, integer and number ranges digit by digit, numbers of at most 15
// digits before and after the point and exponents of at most 2 (none in bounded numbers), and at most
// kMaxWhitespace blanks between two tokens of the JSON text, so that a model cannot loop on blanks.
#pragma once

#include "runtime/JsonSchema.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace granite::runtime {

struct MatchFrame {
  int64_t value = 0; ///< Number: magnitude of the integer part (bounded numbers only); Literals: bytes matched
  int32_t node = -1; ///< -1: the document (before, inside or after the one value)
  int32_t a = 0;     ///< Object: next property; Array: items (saturated); String: code points (saturated);
                     ///< Number: digits in the current part; Literals: first candidate
  int32_t b = 0;     ///< Object: the property whose key was read; Literals: one past the last candidate
  uint8_t phase = 0;
  uint8_t ws = 0; ///< blanks in the current gap
  uint8_t c = 0;  ///< String: UTF-8 continuation bytes still due
  uint8_t d = 0;  ///< String: the range of the next continuation byte; Number: negative
};
static_assert(sizeof(MatchFrame) == 24, "frames are hashed as bytes: no padding");

using MatchStack = std::vector<MatchFrame>;

class JsonMatcher {
public:
  static constexpr int kMaxWhitespace = 8;
  static constexpr int kMaxDigits = 15;

  explicit JsonMatcher(std::shared_ptr<const JsonGrammar> grammar) : grammar_(std::move(grammar)) {}

  /// The stack before the first byte.
  MatchStack start() const { return {MatchFrame{}}; }
  /// Feeds one byte; false if the grammar rejects it (the stack is then unusable).
  bool advance(MatchStack &stack, uint8_t byte) const;
  /// Whether the bytes so far form a complete value (plus blanks).
  bool complete(const MatchStack &stack) const;

  /// When the top of the stack is a string's body between two characters: the code points it still takes
  /// (INT64_MAX when unbounded). Otherwise -1.
  int64_t stringRoom(const MatchStack &stack) const;

private:
  bool push(MatchStack &stack, int32_t node, uint8_t byte) const;
  void childDone(MatchStack &stack, int32_t tag) const;
  /// A number or enum literal on top that may end here.
  bool mayEnd(const MatchFrame &frame) const;
  bool numberByte(MatchStack &stack, uint8_t byte, bool &refeed) const;
  bool stringByte(MatchFrame &frame, const GrammarNode &node, uint8_t byte, bool &done) const;

  std::shared_ptr<const JsonGrammar> grammar_;
};

} // namespace granite::runtime
