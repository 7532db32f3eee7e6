// Tokenizer pieces on small hand-made vocabularies and on the real Granite vocabulary: byte-unicode mapping,
// pre-tokenizer splits, added (special) tokens, decoding and validation errors.
#include "runtime/Tokenizer.h"
#include "GraniteVocabularyFixture.h"
#include "runtime/ByteUnicode.h"
#include "runtime/GraniteVocabulary.h"
#include "runtime/PreTokenizer.h"
#include "runtime/Utf8.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace granite::runtime::testing {
namespace {

/// 256 byte tokens, the given merges (their results appended as tokens), then the given added tokens.
Vocabulary byteVocabulary(const std::vector<std::pair<std::string, std::string>> &merges,
                          const std::vector<std::pair<std::string, TokenType>> &added = {}) {
  Vocabulary v;
  v.preTokenizer = "dbrx";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(bytesToByteUnicode(std::string(1, static_cast<char>(b))));
    v.tokenTypes.push_back(TokenType::Normal);
  }
  for (const auto &[left, right] : merges) {
    v.merges.push_back(bytesToByteUnicode(left) + " " + bytesToByteUnicode(right));
    v.tokens.push_back(bytesToByteUnicode(left + right));
    v.tokenTypes.push_back(TokenType::Normal);
  }
  for (const auto &[text, type] : added) {
    v.tokens.push_back(text);
    v.tokenTypes.push_back(type);
  }
  return v;
}

std::vector<std::string> split(const std::string &preTokenizer, const std::string &text) {
  std::vector<std::string_view> pieces;
  PreTokenizer(preTokenizer).split(text, pieces);
  return {pieces.begin(), pieces.end()};
}

TEST(ByteUnicode, MapsEveryByteAndBack) {
  EXPECT_EQ(bytesToByteUnicode(" the\n"), "Ġthe\xC4\x8A"); // space → Ġ (U+0120), newline → Ċ (U+010A)
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(byteUnicodeToBytes(bytesToByteUnicode(all)), all);
  EXPECT_FALSE(byteUnicodeToBytes("a b"));  // a plain space is not a byte character
  EXPECT_FALSE(byteUnicodeToBytes("\xC4")); // truncated UTF-8
  EXPECT_FALSE(byteUnicodeToBytes("中"));   // outside the 256 characters
}

TEST(Utf8, CompletePrefixHoldsOnlyUnfinishedCharacters) {
  const std::string smile = "\xF0\x9F\x99\x82"; // 🙂
  EXPECT_EQ(completeUtf8Prefix("ab"), 2u);
  EXPECT_EQ(completeUtf8Prefix("a" + smile.substr(0, 1)), 1u);
  EXPECT_EQ(completeUtf8Prefix("a" + smile.substr(0, 3)), 1u);
  EXPECT_EQ(completeUtf8Prefix("a" + smile), 5u);
  EXPECT_EQ(completeUtf8Prefix("a\x80"), 2u); // a stray continuation byte can never complete: emit it
  EXPECT_EQ(completeUtf8Prefix("a\xFF"), 2u);
}

TEST(Utf8, ToValidReplacesEachRunThatFormsNoCharacter) {
  const std::string smile = "\xF0\x9F\x99\x82", replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(toValidUtf8("a" + smile + "b"), "a" + smile + "b");
  EXPECT_EQ(toValidUtf8("a\x80\x80"
                        "b"),
            "a" + replacement + "b"); // stray continuation bytes: one U+FFFD
  EXPECT_EQ(toValidUtf8("a" + smile.substr(0, 3) + "b"), "a" + replacement + "b"); // a truncated sequence
  EXPECT_EQ(toValidUtf8("\xFF\xC0\xAF"), replacement + replacement); // an invalid byte, then an overlong '/'
  EXPECT_EQ(toValidUtf8("\xED\xA0\x80"), replacement);               // a surrogate
}

TEST(PreTokenizer, SplitsLikeCl100k) {
  EXPECT_EQ(split("dbrx", "Hello world's 12345 !!\n\n  x"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", "123", "45", " !!\n\n", " ", " x"}));
  EXPECT_EQ(split("dbrx", "DON'T\r\n\r\nfoo"), (std::vector<std::string>{"DON", "'T", "\r\n\r\n", "foo"}));
}

TEST(PreTokenizer, SplitsLikeGpt2ByDefault) {
  EXPECT_EQ(split("gpt2", "Hello world's 12345 !!"),
            (std::vector<std::string>{"Hello", " world", "'s", " 12345", " !!"}));
  EXPECT_EQ(split("some-other-name", "DON'T"), (std::vector<std::string>{"DON", "'", "T"}));
}

TEST(PreTokenizer, InvalidUtf8BecomesItsOwnPieceAndNothingIsLost) {
  std::vector<std::string> pieces = split("dbrx", "ab\xFF\xFE cd");
  std::string joined;
  for (const std::string &piece : pieces) joined += piece;
  EXPECT_EQ(joined, "ab\xFF\xFE cd");
  EXPECT_EQ(pieces.front(), "ab");
}

TEST(Tokenizer, AppliesMergesByRankLeftmostFirst) {
  // "aa" has rank 0, so "aaa" → [aa, a], and "aaaa" → [aa, aa] then (aa aa) with rank 1.
  Tokenizer tokenizer(byteVocabulary({{"a", "a"}, {"aa", "aa"}}));
  EXPECT_EQ(tokenizer.encode("aaa", false), (std::vector<int32_t>{256, 'a'}));
  EXPECT_EQ(tokenizer.encode("aaaa", false), (std::vector<int32_t>{257}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("aaaaaaa", false), false), "aaaaaaa");
}

TEST(Tokenizer, PrefersTheLongestAddedToken) {
  Tokenizer tokenizer(byteVocabulary({}, {{"<a>", TokenType::UserDefined}, {"<a>b", TokenType::Control}}));
  EXPECT_EQ(tokenizer.encode("x<a>by<a>", true), (std::vector<int32_t>{'x', 257, 'y', 256}));
  EXPECT_EQ(tokenizer.findAddedToken("<a>b"), 257);
  EXPECT_EQ(tokenizer.findAddedToken("<a"), -1);
}

TEST(Tokenizer, RejectsInconsistentVocabularies) {
  Vocabulary missingResult = byteVocabulary({{"a", "b"}});
  missingResult.tokens.pop_back();
  missingResult.tokenTypes.pop_back();
  try {
    Tokenizer tokenizer(missingResult);
    FAIL() << "expected a VocabularyError";
  } catch (const VocabularyError &e) {
    EXPECT_STREQ(e.what(), "merge 0 'a b' produces a string that is not a token");
  }
  Vocabulary notByteLevel = byteVocabulary({});
  notByteLevel.tokens[5] = "a b";
  EXPECT_THROW(Tokenizer{notByteLevel}, VocabularyError);
  Vocabulary badEos = byteVocabulary({});
  badEos.eosId = 256;
  EXPECT_THROW(Tokenizer{badEos}, VocabularyError);
}

TEST(GraniteVocabulary, MatchesTheSpecLayout) {
  const Vocabulary &v = graniteVocabulary();
  ASSERT_EQ(v.size(), kGraniteVocabularySize);
  EXPECT_EQ((std::vector<std::string>(v.tokens.begin(), v.tokens.begin() + 5)),
            (std::vector<std::string>{"!", "\"", "#", "$", "%"}));
  // spec §4: "the merges start Ġ Ġ, ĠĠ ĠĠ, i n, Ġ t, ĠĠĠĠ ĠĠĠĠ"
  EXPECT_EQ((std::vector<std::string>(v.merges.begin(), v.merges.begin() + 5)),
            (std::vector<std::string>{"Ġ Ġ", "ĠĠ ĠĠ", "i n", "Ġ t", "ĠĠĠĠ ĠĠĠĠ"}));
  EXPECT_EQ(v.merges.size(), 100000u);
  EXPECT_EQ(v.tokens[100257], "<|end_of_text|>");
  EXPECT_EQ(v.tokenTypes[100257], TokenType::Control);
  EXPECT_EQ(v.tokens[100270], "<tool_call>");
  EXPECT_EQ(v.tokenTypes[100270], TokenType::UserDefined);
  EXPECT_EQ(v.tokens[100283], "</documents>");
  EXPECT_EQ(v.tokens[100284], "[PAD100284]");
  EXPECT_EQ(v.tokenTypes[100351], TokenType::Unused);
  EXPECT_EQ(v.bosId, 100257);
  EXPECT_EQ(v.eosId, 100257);
  EXPECT_EQ(v.padId, 100256);
  EXPECT_EQ(v.unknownId, 100269);
  EXPECT_FALSE(v.addBos);
  EXPECT_EQ(v.preTokenizer, "dbrx");
}

TEST(GraniteTokenizer, AddedTokensAreOneIdInTemplateTextOnly) {
  Tokenizer &tokenizer = graniteTokenizer();
  EXPECT_EQ(tokenizer.encode("<tool_call>", true), (std::vector<int32_t>{100270}));
  std::vector<int32_t> raw = tokenizer.encode("<tool_call>", false);
  EXPECT_GT(raw.size(), 1u);
  for (int32_t id : raw) EXPECT_LT(id, kGraniteBaseTokenCount);
  EXPECT_EQ(tokenizer.decode(raw, false), "<tool_call>");

  EXPECT_EQ(tokenizer.encode("<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n", true),
            (std::vector<int32_t>{100264, 882, 100265, 13347, 100257, 198}));
}

TEST(GraniteTokenizer, TemplateTextKeepsLiteralSpansAsText) {
  Tokenizer &tokenizer = graniteTokenizer();
  const std::string text = "<|start_of_role|>user<|end_of_role|>Hi <|start_of_role|><|end_of_text|>";
  const size_t userStart = text.find("Hi");
  const std::vector<TextSpan> literal = {{userStart, text.find("<|end_of_text|>") - userStart}};
  std::vector<int32_t> ids = tokenizer.encodeTemplate(text, literal);
  EXPECT_EQ(ids.front(), 100264);
  EXPECT_EQ(ids.back(), 100257);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 100264), 1) << "the typed role marker must stay text";
  EXPECT_EQ(tokenizer.decode(ids, true), text);
  // Without literal spans it is encode(text, true), and the ordinary text is encoded across the span's edges.
  EXPECT_EQ(tokenizer.encodeTemplate(text, {}), tokenizer.encode(text, true));
  std::vector<int32_t> userPart = tokenizer.encode("Hi <|start_of_role|>", false);
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 3, ids.end() - 1), userPart);
}

TEST(GraniteTokenizer, DecodingHidesControlTokensUnlessAsked) {
  Tokenizer &tokenizer = graniteTokenizer();
  std::vector<int32_t> ids = {100264, 882, 100265, 100270, 100257, 100300};
  EXPECT_EQ(tokenizer.decode(ids, false), "user<tool_call>");
  EXPECT_EQ(tokenizer.decode(ids, true), "<|start_of_role|>user<|end_of_role|><tool_call><|end_of_text|>");
  EXPECT_TRUE(tokenizer.isEndOfGeneration(100257));
  EXPECT_FALSE(tokenizer.isEndOfGeneration(100256));
  EXPECT_TRUE(tokenizer.isUnused(100284));
  EXPECT_FALSE(tokenizer.isUnused(100283));
  EXPECT_THROW(tokenizer.decode({kGraniteVocabularySize}, false), std::out_of_range);
  EXPECT_THROW(tokenizer.decode({-1}, false), std::out_of_range);
}

} // namespace
} // namespace granite::runtime::testing
