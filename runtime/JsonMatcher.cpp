#include "runtime/JsonMatcher.h"

#include <climits>
#include <cmath>

namespace granite::runtime {
namespace {

using Kind = GrammarNode::Kind;

// Phases. The document: before its value, inside it, after it.
enum : uint8_t { kDocBefore, kDocInside, kDocAfter };
// Objects and arrays.
enum : uint8_t { kOpen, kAfterOpen, kInKey, kAfterKey, kAfterColon, kInValue, kAfterValue, kAfterComma };
// Strings: before the quote, body, after a backslash, then the four hex digits of \u.
enum : uint8_t { kStrOpen, kStrBody, kStrEscape, kStrHex1, kStrHex2, kStrHex3, kStrHex4 };
// Numbers: start, after '-', a leading 0, integer digits, after '.', fraction digits, after e, after its sign,
// exponent digits.
enum : uint8_t { kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumE, kNumESign, kNumExp };

bool isBlank(uint8_t b) { return b == ' ' || b == '\n' || b == '\t' || b == '\r'; }
bool isDigit(uint8_t b) { return b >= '0' && b <= '9'; }
bool isHex(uint8_t b) { return isDigit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }

bool blank(MatchFrame &frame) {
  if (frame.ws >= JsonMatcher::kMaxWhitespace) return false;
  ++frame.ws;
  return true;
}

int32_t saturated(int64_t count, int64_t cap) { return static_cast<int32_t>(count < cap ? count : cap); }

/// The ranges of a UTF-8 continuation byte: any, then the first one after E0, ED, F0 and F4.
bool continuationOk(uint8_t range, uint8_t b) {
  switch (range) {
  case 1: return b >= 0xA0 && b <= 0xBF;
  case 2: return b >= 0x80 && b <= 0x9F;
  case 3: return b >= 0x90 && b <= 0xBF;
  case 4: return b >= 0x80 && b <= 0x8F;
  default: return b >= 0x80 && b <= 0xBF;
  }
}

/// Whether an integer part of magnitude `magnitude` (`digits` digits so far) can still end in the node's range.
bool feasible(const GrammarNode &node, int64_t magnitude, int digits, bool negative) {
  const double low = std::ceil(node.minimum), high = std::floor(node.maximum);
  double scale = 1;
  for (int more = 0; digits + more <= JsonMatcher::kMaxDigits; ++more, scale *= 10) {
    if (magnitude == 0 && more > 0) break; // a leading zero takes no more digits
    double first = double(magnitude) * scale, last = first + scale - 1;
    double from = negative ? -last : first, to = negative ? -first : last;
    if (to >= low && from <= high) return true;
  }
  return false;
}

bool inRange(const GrammarNode &node, int64_t magnitude, bool negative) {
  double value = negative ? -double(magnitude) : double(magnitude);
  return value >= node.minimum && value <= node.maximum;
}

/// A fraction is allowed after a bounded integer part only when every fraction keeps the value in range.
bool fractionOk(const GrammarNode &node, int64_t magnitude, bool negative) {
  double m = double(magnitude);
  return negative ? (-m - 1 >= node.minimum && -m <= node.maximum) : (m >= node.minimum && m + 1 <= node.maximum);
}

} // namespace

bool JsonMatcher::push(MatchStack &stack, int32_t index, uint8_t byte) const {
  while (grammar_->nodes[index].kind == Kind::Union) {
    index = grammar_->nodes[index].byFirstByte[byte];
    if (index < 0) return false;
  }
  MatchFrame frame;
  frame.node = index;
  const GrammarNode &node = grammar_->nodes[index];
  if (node.kind == Kind::Literals) frame.b = static_cast<int32_t>(grammar_->literalSets[node.literalSet].texts.size());
  stack.push_back(frame);
  return true;
}

void JsonMatcher::childDone(MatchStack &stack, int32_t tag) const {
  MatchFrame &parent = stack.back();
  parent.ws = 0;
  if (parent.node < 0) {
    parent.phase = kDocAfter;
  } else if (grammar_->nodes[parent.node].kind == Kind::Object && parent.phase == kInKey) {
    parent.phase = kAfterKey;
    parent.b = tag;
  } else if (!grammar_->nodes[parent.node].variants.empty()) {
    parent.node = grammar_->nodes[parent.node].variants[tag]; // the tag's object, past its first property
    parent.a = 1;
    parent.phase = kAfterValue;
  } else {
    parent.phase = kAfterValue;
  }
}

bool JsonMatcher::mayEnd(const MatchFrame &frame) const {
  if (frame.node < 0) return false;
  const GrammarNode &node = grammar_->nodes[frame.node];
  if (node.kind == Kind::Literals)
    return grammar_->literalSets[node.literalSet].texts[frame.a].size() == static_cast<size_t>(frame.value);
  if (node.kind != Kind::Number) return false;
  switch (frame.phase) {
  case kNumZero:
  case kNumInt: return !node.bounded || inRange(node, frame.value, frame.d);
  case kNumFrac:
  case kNumExp: return true;
  default: return false;
  }
}

bool JsonMatcher::stringByte(MatchFrame &f, const GrammarNode &node, uint8_t b, bool &done) const {
  const int64_t cap = node.maxLength >= 0 ? node.maxLength : node.minLength;
  const bool room = node.maxLength < 0 || f.a < node.maxLength;
  switch (f.phase) {
  case kStrOpen:
    if (b != '"') return false;
    f.phase = kStrBody;
    return true;
  case kStrBody:
    if (f.c > 0) {
      if (!continuationOk(f.d, b)) return false;
      --f.c;
      f.d = 0;
      return true;
    }
    if (b == '"') {
      done = f.a >= node.minLength;
      return done;
    }
    if (b < 0x20 || !room) return false;
    if (b == '\\')
      f.phase = kStrEscape;
    else if (b >= 0x80) {
      if (b >= 0xC2 && b <= 0xDF)
        f.c = 1;
      else if (b >= 0xE0 && b <= 0xEF)
        f.c = 2, f.d = b == 0xE0 ? 1 : b == 0xED ? 2 : 0;
      else if (b >= 0xF0 && b <= 0xF4)
        f.c = 3, f.d = b == 0xF0 ? 3 : b == 0xF4 ? 4 : 0;
      else
        return false;
    }
    f.a = saturated(int64_t(f.a) + 1, cap);
    return true;
  case kStrEscape:
    if (b == 'u')
      f.phase = kStrHex1;
    else if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't')
      f.phase = kStrBody;
    else
      return false;
    return true;
  case kStrHex1:
    if (!isHex(b) || b == 'd' || b == 'D') return false; // no surrogates: their pairs would count as one
    f.phase = kStrHex2;
    return true;
  default: // kStrHex2..4
    if (!isHex(b)) return false;
    f.phase = f.phase == kStrHex4 ? uint8_t(kStrBody) : uint8_t(f.phase + 1);
    return true;
  }
}

bool JsonMatcher::numberByte(MatchStack &stack, uint8_t b, bool &refeed) const {
  MatchFrame &f = stack.back();
  const GrammarNode &node = grammar_->nodes[f.node];
  const int digit = b - '0';
  auto startInteger = [&]() {
    if (node.bounded && !feasible(node, digit, 1, f.d)) return false;
    f.value = node.bounded ? digit : 0;
    f.a = 1;
    f.phase = digit == 0 ? kNumZero : kNumInt;
    return true;
  };
  switch (f.phase) {
  case kNumStart:
    if (b == '-') {
      f.d = 1;
      f.phase = kNumMinus;
      if (!node.bounded) return true;
      for (int first = 1; first <= 9; ++first) // "-0" alone is 0: no reason for a sign
        if (feasible(node, first, 1, true)) return true;
      return false;
    }
    return isDigit(b) && startInteger();
  case kNumMinus: return isDigit(b) && startInteger();
  case kNumZero:
  case kNumInt:
    if (isDigit(b) && f.phase == kNumInt) {
      if (f.a >= kMaxDigits) return false;
      if (node.bounded) {
        int64_t next = f.value * 10 + digit;
        if (!feasible(node, next, f.a + 1, f.d)) return false;
        f.value = next;
      }
      ++f.a;
      return true;
    }
    if (b == '.' && !node.integer && (!node.bounded || fractionOk(node, f.value, f.d))) {
      f.phase = kNumDot;
      f.a = 0;
      return true;
    }
    if ((b == 'e' || b == 'E') && !node.integer && !node.bounded) {
      f.phase = kNumE;
      f.a = 0;
      return true;
    }
    break;
  case kNumDot:
    if (!isDigit(b)) return false;
    f.phase = kNumFrac;
    f.a = 1;
    return true;
  case kNumFrac:
    if (isDigit(b)) {
      if (f.a >= kMaxDigits) return false;
      ++f.a;
      return true;
    }
    if ((b == 'e' || b == 'E') && !node.bounded) {
      f.phase = kNumE;
      f.a = 0;
      return true;
    }
    break;
  case kNumE:
    if (b == '+' || b == '-') {
      f.phase = kNumESign;
      return true;
    }
    [[fallthrough]];
  case kNumESign:
    if (!isDigit(b)) return false;
    f.phase = kNumExp;
    f.a = 1;
    return true;
  case kNumExp:
    if (isDigit(b)) {
      if (f.a >= 2) return false;
      ++f.a;
      return true;
    }
    break;
  default: return false;
  }
  if (!mayEnd(f)) return false;
  stack.pop_back();
  childDone(stack, 0);
  refeed = true;
  return true;
}

bool JsonMatcher::advance(MatchStack &stack, uint8_t b) const {
  const JsonGrammar &g = *grammar_;
  for (;;) {
    MatchFrame &f = stack.back();
    if (f.node < 0) {
      if (isBlank(b)) return f.phase != kDocInside && blank(f);
      if (f.phase != kDocBefore) return false;
      f.phase = kDocInside;
      f.ws = 0;
      if (!push(stack, g.root, b)) return false;
      continue;
    }
    const GrammarNode &node = g.nodes[f.node];
    switch (node.kind) {
    case Kind::Union: return false; // push() resolves unions
    case Kind::String: {
      bool done = false;
      if (!stringByte(f, node, b, done)) return false;
      if (done) {
        stack.pop_back();
        childDone(stack, 0);
      }
      return true;
    }
    case Kind::Number: {
      bool refeed = false;
      if (!numberByte(stack, b, refeed)) return false;
      if (refeed) continue;
      return true;
    }
    case Kind::Literals: {
      const LiteralSet &set = g.literalSets[node.literalSet];
      const size_t pos = static_cast<size_t>(f.value);
      int32_t lo = f.a;
      while (lo < f.b && !(set.texts[lo].size() > pos && uint8_t(set.texts[lo][pos]) == b)) ++lo;
      if (lo < f.b) {
        int32_t hi = lo + 1;
        while (hi < f.b && uint8_t(set.texts[hi][pos]) == b) ++hi;
        f.a = lo;
        f.b = hi;
        ++f.value;
        return true;
      }
      if (!mayEnd(f)) return false;
      const int32_t tag = set.tags[f.a];
      stack.pop_back();
      childDone(stack, tag);
      continue;
    }
    case Kind::Array: {
      const int64_t cap = node.maxItems >= 0 ? node.maxItems : node.minItems;
      switch (f.phase) {
      case kOpen:
        if (b != '[') return false;
        f.phase = kAfterOpen;
        return true;
      case kAfterOpen:
      case kAfterComma:
        if (isBlank(b)) return blank(f);
        if (b == ']' && f.phase == kAfterOpen) {
          if (node.minItems > 0) return false;
          stack.pop_back();
          childDone(stack, 0);
          return true;
        }
        if (node.maxItems == 0) return false;
        f.a = saturated(f.phase == kAfterOpen ? 1 : int64_t(f.a) + 1, cap);
        f.phase = kInValue;
        f.ws = 0;
        if (!push(stack, node.items, b)) return false;
        continue;
      case kAfterValue:
        if (isBlank(b)) return blank(f);
        if (b == ',' && (node.maxItems < 0 || f.a < node.maxItems)) {
          f.phase = kAfterComma;
          f.ws = 0;
          return true;
        }
        if (b == ']' && f.a >= node.minItems) {
          stack.pop_back();
          childDone(stack, 0);
          return true;
        }
        return false;
      default: return false;
      }
    }
    case Kind::Object: {
      const int32_t count = static_cast<int32_t>(node.properties.size());
      auto mayClose = [&]() {
        if (node.freeKeys) return true;
        for (int32_t i = f.a; i < count; ++i)
          if (node.properties[i].required) return false;
        return true;
      };
      switch (f.phase) {
      case kOpen:
        if (b != '{') return false;
        f.phase = kAfterOpen;
        return true;
      case kAfterOpen:
      case kAfterComma:
        if (isBlank(b)) return blank(f);
        if (b == '}' && f.phase == kAfterOpen) {
          if (!mayClose()) return false;
          stack.pop_back();
          childDone(stack, 0);
          return true;
        }
        if (b != '"') return false;
        f.phase = kInKey;
        f.ws = 0;
        {
          const int32_t key = node.freeKeys ? g.anyString : node.keySets[f.a];
          if (key < 0) return false;
          push(stack, key, b);
        }
        continue;
      case kAfterKey:
        if (isBlank(b)) return blank(f);
        if (b != ':') return false;
        f.phase = kAfterColon;
        f.ws = 0;
        return true;
      case kAfterColon: {
        if (isBlank(b)) return blank(f);
        int32_t child = g.anyValue;
        if (!node.freeKeys) {
          child = node.properties[f.b].node;
          f.a = f.b + 1;
        }
        f.phase = kInValue;
        f.ws = 0;
        if (!push(stack, child, b)) return false;
        continue;
      }
      case kAfterValue:
        if (isBlank(b)) return blank(f);
        if (b == ',' && (node.freeKeys || f.a < count)) {
          f.phase = kAfterComma;
          f.ws = 0;
          return true;
        }
        if (b == '}' && mayClose()) {
          stack.pop_back();
          childDone(stack, 0);
          return true;
        }
        return false;
      default: return false;
      }
    }
    }
    return false;
  }
}

int64_t JsonMatcher::stringRoom(const MatchStack &stack) const {
  const MatchFrame &top = stack.back();
  if (top.node < 0) return -1;
  const GrammarNode &node = grammar_->nodes[top.node];
  if (node.kind != Kind::String || top.phase != kStrBody || top.c != 0) return -1;
  return node.maxLength < 0 ? INT64_MAX : node.maxLength - top.a;
}

bool JsonMatcher::complete(const MatchStack &stack) const {
  size_t depth = stack.size();
  // Only a number or literal may be open at the end, and only as the value itself (a child of the document).
  if (depth == 2 && mayEnd(stack[1])) return true;
  return depth == 1 && stack[0].phase == kDocAfter;
}

} // namespace granite::runtime
