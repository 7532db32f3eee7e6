// The serialized vocabulary: exact round trip, compactness, and precise errors for damaged blobs.
#include "runtime/VocabularyBlob.h"
#include "GraniteVocabularyFixture.h"

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
}

} // namespace
} // namespace granite::runtime::testing
