// The tokenizer of a Hugging Face folder against the GGUF it was written from: same tokens, merges, special ids and
// pre-tokenizer, the same ids for every test string; and precise errors for broken tokenizer files.
#include "Codegen/HuggingFaceVocabulary.h"
#include "../Frontend/GoldenModels.h"
#include "../Frontend/HuggingFaceFolder.h"
#include "Codegen/GGUFVocabulary.h"
#include "runtime/Tokenizer.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace granite;
namespace fs = std::filesystem;

namespace {

class HuggingFaceVocabulary : public ::testing::Test {
protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() / ("granite-hf-vocab-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(folder_);
    granite::testing::writeHuggingFaceFolder(gguf_, loadGraniteConfig(gguf_), folder_, 1);
  }
  void TearDown() override { fs::remove_all(folder_); }

  void editJson(const std::string &file, const std::function<void(nlohmann::json &)> &change) {
    nlohmann::json j;
    std::ifstream(folder_ / file) >> j;
    change(j);
    std::ofstream(folder_ / file) << j.dump();
  }
  std::string errorOf() {
    try {
      codegen::vocabularyFromHuggingFace(folder_.string(), 512);
    } catch (const runtime::VocabularyError &e) {
      return e.what();
    }
    return "<accepted>";
  }

  gguf::File gguf_ = gguf::File::open(granite::testing::goldenModel("hybrid-f32"));
  fs::path folder_;
};

TEST_F(HuggingFaceVocabulary, MatchesTheGGUFTokenizer) {
  runtime::Vocabulary hf = codegen::vocabularyFromHuggingFace(folder_.string(), 512);
  runtime::Vocabulary gg = codegen::vocabularyFromGGUF(gguf_);
  EXPECT_EQ(hf.preTokenizer, "dbrx");
  EXPECT_EQ(hf.preTokenizer, gg.preTokenizer);
  EXPECT_EQ(hf.tokens, gg.tokens);
  EXPECT_EQ(hf.merges, gg.merges);
  EXPECT_EQ(hf.bosId, gg.bosId);
  EXPECT_EQ(hf.eosId, gg.eosId);
  EXPECT_EQ(hf.padId, gg.padId);
  EXPECT_EQ(hf.unknownId, gg.unknownId);
  ASSERT_EQ(hf.tokenTypes.size(), gg.tokenTypes.size());
  for (size_t id = 0; id < hf.tokenTypes.size(); ++id) // fillers come back as special added tokens, as converted
    EXPECT_EQ(hf.tokenTypes[id],
              gg.tokenTypes[id] == runtime::TokenType::Unused ? runtime::TokenType::Control : gg.tokenTypes[id])
        << id;

  runtime::Tokenizer fromHF(std::move(hf)), fromGGUF(std::move(gg));
  for (const char *text : {"Hello world", "  spaces\r\n\ttabs", "numbers 1234567", "<|end_of_text|> and <|pad|>",
                           "DON'T stop", "naïve 東京 🙂"}) {
    EXPECT_EQ(fromHF.encode(text, false), fromGGUF.encode(text, false)) << text;
    EXPECT_EQ(fromHF.encode(text, true), fromGGUF.encode(text, true)) << text;
  }
}

TEST_F(HuggingFaceVocabulary, IdsWithoutATokenBecomeUnusedPadding) {
  editJson("tokenizer.json", [](auto &j) {
    auto &added = j["added_tokens"];
    added.erase(added.size() - 1); // the last filler, id 511
  });
  runtime::Vocabulary v = codegen::vocabularyFromHuggingFace(folder_.string(), 512);
  EXPECT_EQ(v.tokens[511], "[PAD511]");
  EXPECT_EQ(v.tokenTypes[511], runtime::TokenType::Unused);
}

TEST_F(HuggingFaceVocabulary, BrokenFilesAreNamed) {
  editJson("tokenizer.json", [](auto &j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+"; });
  EXPECT_EQ(errorOf(), "tokenizer.json: unsupported pre-tokenizer split pattern '\\w+'");
  SetUp();
  editJson("tokenizer.json", [](auto &j) { j["added_tokens"][0]["id"] = 600; });
  EXPECT_EQ(errorOf(), "tokenizer.json: token '<|end_of_text|>' has id 600, outside the 512 embedding rows");
  SetUp();
  editJson("tokenizer_config.json", [](auto &j) { j["eos_token"] = "<|nope|>"; });
  EXPECT_EQ(errorOf(), "tokenizer_config.json: eos_token '<|nope|>' is not a token");
  SetUp();
  fs::remove(folder_ / "tokenizer.json");
  EXPECT_EQ(errorOf(), "no readable " + (folder_ / "tokenizer.json").string());
  // Found by fuzzing (test/fuzz/regressions/fuzz_hf_tokenizer): a value of the wrong JSON type is a VocabularyError.
  SetUp();
  editJson("tokenizer.json", [](auto &j) { j["model"] = 1; });
  EXPECT_EQ(errorOf(), "tokenizer.json or tokenizer_config.json: a value of the wrong JSON type "
                       "([json.exception.type_error.306] cannot use value() with number)");
}

} // namespace
