// Our Granite tokenizer against js-tiktoken's cl100k_base on a generated corpus of 12,000 strings: the ids must be
// identical (ids 0..100255 are cl100k's) and decoding must give back the exact text.
#include "GraniteVocabularyFixture.h"
#include "NodeReference.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace granite::runtime::testing {
namespace {

struct CorpusEntry {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<CorpusEntry> loadCorpus() {
  std::ifstream in(nodeReferenceFile("cl100k-corpus.mjs", "cl100k-corpus.jsonl"));
  std::vector<CorpusEntry> corpus;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json entry = nlohmann::json::parse(line);
    corpus.push_back({entry.at("text").get<std::string>(), entry.at("ids").get<std::vector<int32_t>>()});
  }
  return corpus;
}

std::string idsText(const std::vector<int32_t> &ids) {
  std::string text;
  for (int32_t id : ids) text += (text.empty() ? "" : " ") + std::to_string(id);
  return text;
}

TEST(TokenizerExactness, MatchesJsTiktokenOnTheCorpus) {
  std::vector<CorpusEntry> corpus = loadCorpus();
  ASSERT_GE(corpus.size(), 10000u);
  Tokenizer &tokenizer = graniteTokenizer();
  size_t mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    std::vector<int32_t> ids = tokenizer.encode(corpus[i].text, /*parseSpecial=*/false);
    if (ids != corpus[i].ids && ++mismatches <= 10)
      ADD_FAILURE() << "corpus string " << i << " " << nlohmann::json(corpus[i].text).dump()
                    << "\n  ours:        " << idsText(ids) << "\n  js-tiktoken: " << idsText(corpus[i].ids);
  }
  EXPECT_EQ(mismatches, 0u) << "of " << corpus.size() << " strings";
}

TEST(TokenizerExactness, DecodeOfEncodeIsTheText) {
  std::vector<CorpusEntry> corpus = loadCorpus();
  Tokenizer &tokenizer = graniteTokenizer();
  size_t mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    std::string decoded = tokenizer.decode(tokenizer.encode(corpus[i].text, false), /*renderSpecial=*/false);
    if (decoded != corpus[i].text && ++mismatches <= 10)
      ADD_FAILURE() << "corpus string " << i << " " << nlohmann::json(corpus[i].text).dump() << " decodes to "
                    << nlohmann::json(decoded).dump();
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(TokenizerExactness, LongRepetitiveWordsMatchTheReferenceBpe) {
  // Long single pieces exercise the heap-based merge order; the reference ids come from the corpus, whose
  // generator includes runs of up to 400 repeated characters.
  std::vector<CorpusEntry> corpus = loadCorpus();
  Tokenizer &tokenizer = graniteTokenizer();
  size_t longPieces = 0;
  for (const CorpusEntry &entry : corpus) {
    if (entry.text.size() < 200) continue;
    ++longPieces;
    EXPECT_EQ(tokenizer.encode(entry.text, false), entry.ids) << nlohmann::json(entry.text).dump().substr(0, 80);
  }
  EXPECT_GT(longPieces, 100u);
}

} // namespace
} // namespace granite::runtime::testing
