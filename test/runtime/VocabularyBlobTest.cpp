// The serialized vocabulary: exact round trip, compactness, and precise errors for damaged blobs.
#include "runtime/VocabularyBlob.h"
#include "GraniteVocabularyFixture.h"
#include "runtime/BlobCodec.h"
#include "runtime/ByteUnicode.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

std::string errorOf(const std::vector<uint8_t> &blob) {
  try {
    deserializeVocabulary(blob.data(), blob.size());
  } catch (const VocabularyError &e) {
    return e.what();
  }
  return "no error";
}

/// Tokenizer::fromVocabularyBlob's error; it must be deserializeVocabulary's.
std::string tokenizerErrorOf(const std::vector<uint8_t> &blob) {
  try {
    Tokenizer::fromVocabularyBlob(blob.data(), blob.size());
  } catch (const VocabularyError &e) {
    return e.what();
  }
  return "no error";
}

/// Both tokenizers give every token the same bytes and types and encode `texts` alike.
void expectSameTokenizer(Tokenizer &a, Tokenizer &b, const std::vector<std::string> &texts) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.eosId(), b.eosId());
  for (int32_t id = 0; id < a.size(); ++id) {
    ASSERT_EQ(a.tokenBytes(id, true), b.tokenBytes(id, true)) << id;
    ASSERT_EQ(a.tokenBytes(id, false), b.tokenBytes(id, false)) << id;
    ASSERT_EQ(a.isUnused(id), b.isUnused(id)) << id;
  }
  for (const std::string &text : texts) {
    EXPECT_EQ(a.encode(text, true), b.encode(text, true)) << text;
    EXPECT_EQ(a.encode(text, false), b.encode(text, false)) << text;
  }
}

/// A blob written field by field, so that it can hold what serializeVocabulary never writes.
struct HandBlob {
  std::vector<std::pair<TokenType, std::string>> tokens; // raw bytes for byte-level tokens
  std::vector<std::pair<uint32_t, uint32_t>> merges;
  std::vector<uint8_t> bytes() const {
    BlobWriter w;
    w.bytes("GRTK", 4);
    w.fixed32(1);
    w.string("gpt2");
    w.string("gpt2");
    for (int32_t id : {-1, 0, -1, -1}) w.fixed32(static_cast<uint32_t>(id));
    w.u8(0);
    w.varint(tokens.size());
    for (const auto &[type, text] : tokens) {
      w.u8(static_cast<uint8_t>(type));
      w.string(text);
    }
    w.varint(merges.size());
    for (const auto &[left, right] : merges) {
      w.varint(left);
      w.varint(right);
    }
    return std::move(w.out);
  }
};

/// Byte tokens 0..255 (id = byte), then `extra`.
HandBlob byteVocabulary(std::vector<std::pair<TokenType, std::string>> extra) {
  HandBlob blob;
  for (int b = 0; b < 256; ++b) blob.tokens.push_back({TokenType::Normal, std::string(1, static_cast<char>(b))});
  blob.tokens.insert(blob.tokens.end(), extra.begin(), extra.end());
  return blob;
}

TEST(VocabularyBlob, RoundTripsTheGraniteVocabularyExactly) {
  std::vector<uint8_t> blob = serializeVocabulary(graniteVocabulary());
  EXPECT_LT(blob.size(), 1500000u) << "the blob should be about half the GGUF form";
  Vocabulary loaded = deserializeVocabulary(blob.data(), blob.size());
  EXPECT_TRUE(loaded == graniteVocabulary());
  Tokenizer tokenizer(std::move(loaded));
  EXPECT_EQ(tokenizer.encode("Hello <tool_call>", true), graniteTokenizer().encode("Hello <tool_call>", true));
}

TEST(VocabularyBlob, ReportsDamage) {
  const std::vector<uint8_t> blob = serializeVocabulary(graniteVocabulary());

  std::vector<uint8_t> badMagic = blob;
  badMagic[0] = 'X';
  EXPECT_EQ(errorOf(badMagic), "vocabulary blob does not start with \"GRTK\"");

  std::vector<uint8_t> newerVersion = blob;
  newerVersion[4] = 9;
  EXPECT_EQ(errorOf(newerVersion), "vocabulary blob has version 9, this runtime reads 1");

  for (size_t cut : {size_t(3), size_t(30), blob.size() / 2, blob.size() - 1}) {
    std::vector<uint8_t> truncated(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_NE(errorOf(truncated).find("truncated"), std::string::npos)
        << "cut at " << cut << ": " << errorOf(truncated);
  }

  std::vector<uint8_t> trailing = blob;
  trailing.push_back(0);
  EXPECT_EQ(errorOf(trailing), "vocabulary blob has 1 bytes after its end");

  // The last byte is the right id of the last merge; 0x7F makes it a different, still in-range token, which the
  // validation catches because the merge no longer produces a token.
  std::vector<uint8_t> wrongMerge = blob;
  wrongMerge.back() = 0x7F;
  EXPECT_NE(errorOf(wrongMerge).find("merge 99999"), std::string::npos) << errorOf(wrongMerge);

  for (const std::vector<uint8_t> *damaged : {&badMagic, &newerVersion, &trailing, &wrongMerge})
    EXPECT_EQ(tokenizerErrorOf(*damaged), errorOf(*damaged));
  for (size_t cut = 0; cut < blob.size(); cut += blob.size() / 23 + 1) {
    std::vector<uint8_t> truncated(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(tokenizerErrorOf(truncated), errorOf(truncated)) << "cut at " << cut;
  }
}

// The executable's tokenizer comes straight from the blob; it must be the one built through the Vocabulary.
TEST(VocabularyBlob, TokenizerFromTheBlobIsTheGeneralOne) {
  const std::vector<uint8_t> blob = serializeVocabulary(graniteVocabulary());
  ASSERT_TRUE(readTokenTable(blob.data(), blob.size()).has_value());
  Tokenizer fast = Tokenizer::fromVocabularyBlob(blob.data(), blob.size());
  std::vector<std::string> texts = {"Hello <tool_call>", "  the quick brown fox's 12345 jumps\n\n\t!",
                                    "<|start_of_role|>user<|end_of_role|>Héllo 日本語 🙂\xff\xfe"};
  for (int32_t id = 0; id < fast.size(); id += 7) texts.emplace_back(fast.tokenBytes(id, true));
  expectSameTokenizer(fast, graniteTokenizer(), texts);
}

// Blobs that serializeVocabulary does not write take the general path, with its result or its error.
TEST(VocabularyBlob, UnusualBlobsTakeTheGeneralPath) {
  const std::vector<std::string> texts = {"abc", "ab ab", "ba", "<b>ab", "xab"};
  auto expectGeneral = [&](const HandBlob &hand, bool fastPath, const char *what) {
    SCOPED_TRACE(what);
    const std::vector<uint8_t> blob = hand.bytes();
    EXPECT_EQ(readTokenTable(blob.data(), blob.size()).has_value(), fastPath);
    std::string error = "no error";
    try {
      Tokenizer general(deserializeVocabulary(blob.data(), blob.size()));
    } catch (const VocabularyError &e) {
      error = e.what();
    }
    EXPECT_EQ(tokenizerErrorOf(blob), error);
    if (error == "no error") {
      Tokenizer fast = Tokenizer::fromVocabularyBlob(blob.data(), blob.size());
      Tokenizer general(deserializeVocabulary(blob.data(), blob.size()));
      expectSameTokenizer(fast, general, texts);
    }
  };
  HandBlob plain = byteVocabulary({{TokenType::Normal, "ab"}, {TokenType::Control, "<b>"}});
  plain.merges = {{'a', 'b'}};
  expectGeneral(plain, true, "the usual form");

  // A control token whose text is "a" as a merge's half: GGUF resolves the merge "a b" by text, to the byte token.
  HandBlob controlHalf = byteVocabulary({{TokenType::Normal, "ab"}, {TokenType::Control, "a"}});
  controlHalf.merges = {{257, 'b'}};
  expectGeneral(controlHalf, false, "a control token as a half");

  HandBlob duplicate = byteVocabulary({{TokenType::Normal, "ab"}, {TokenType::Normal, "ab"}});
  expectGeneral(duplicate, false, "a duplicate token");

  HandBlob emptyHalf = byteVocabulary({{TokenType::Normal, ""}, {TokenType::Normal, "ab"}});
  emptyHalf.merges = {{256, 'a'}};
  expectGeneral(emptyHalf, false, "an empty half");

  HandBlob noResult = byteVocabulary({{TokenType::Normal, "ab"}});
  noResult.merges = {{'b', 'a'}};
  expectGeneral(noResult, false, "a merge without a result");

  HandBlob missingByte = byteVocabulary({});
  missingByte.tokens[7].first = TokenType::Control;
  expectGeneral(missingByte, false, "a byte without a token");

  HandBlob repeated = byteVocabulary({{TokenType::Normal, "ab"}, {TokenType::Normal, "abab"}});
  repeated.merges = {{'a', 'b'}, {256, 256}, {'a', 'b'}};
  expectGeneral(repeated, true, "a repeated merge");
}

} // namespace
} // namespace granite::runtime::testing
