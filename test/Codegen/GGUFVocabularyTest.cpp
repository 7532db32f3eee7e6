// The GGUF tokenizer metadata as the vocabulary granitec embeds: the golden models' tokenizer, and one-line errors
// for missing or malformed keys.
#include "Codegen/GGUFVocabulary.h"
#include "Frontend/GGUFWriter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <unistd.h>

namespace granite::codegen {
namespace {

const std::string kGolden = std::string(GRANITE_GOLDEN_DIR) + "/models/dense-f32.gguf";

using Metadata = std::vector<std::pair<std::string, gguf::Value>>;

/// The golden file with its metadata changed by `edit`.
gguf::File editedGolden(const std::function<void(Metadata &)> &edit) {
  gguf::File golden = gguf::File::open(kGolden); // the writer reads its tensor bytes
  gguf::Writer writer = gguf::copyOf(golden);
  edit(writer.metadata());
  const std::string path = ::testing::TempDir() + "gguf-vocabulary-test-" + std::to_string(getpid()) + ".gguf";
  writer.writeFile(path);
  gguf::File file = gguf::File::open(path); // the mapping outlives the name
  std::remove(path.c_str());
  return file;
}

/// The error vocabularyFromGGUF gives for the golden file's metadata after `edit`.
std::string errorAfter(const std::function<void(Metadata &)> &edit) {
  try {
    vocabularyFromGGUF(editedGolden(edit));
  } catch (const runtime::VocabularyError &e) {
    return e.what();
  }
  return "no error";
}

TEST(GGUFVocabulary, ReadsTheGoldenTokenizerAndTheChatTemplate) {
  gguf::File file = gguf::File::open(kGolden);
  runtime::Vocabulary vocabulary = vocabularyFromGGUF(file);
  EXPECT_EQ(vocabulary.size(), 512);
  EXPECT_EQ(vocabulary.preTokenizer, "dbrx");
  EXPECT_EQ(vocabulary.merges.size(), 32u);
  EXPECT_EQ(vocabulary.eosId, 288);
  EXPECT_FALSE(vocabulary.addBos);
  EXPECT_EQ(chatTemplateFromGGUF(file), ""); // the golden models carry none
  gguf::File withTemplate = editedGolden([](Metadata &m) {
    m.emplace_back("tokenizer.chat_template", gguf::Value::makeString("{%- for message in messages %}"));
  });
  EXPECT_EQ(chatTemplateFromGGUF(withTemplate), "{%- for message in messages %}");
}

void erase(Metadata &metadata, const std::string &key) {
  metadata.erase(
      std::remove_if(metadata.begin(), metadata.end(), [&](const auto &entry) { return entry.first == key; }),
      metadata.end());
}

TEST(GGUFVocabulary, NamesTheMissingOrMalformedKey) {
  EXPECT_EQ(errorAfter([](auto &m) { erase(m, "tokenizer.ggml.tokens"); }), "the GGUF has no tokenizer.ggml.tokens");
  EXPECT_EQ(errorAfter([](auto &m) { erase(m, "tokenizer.ggml.token_type"); }),
            "the GGUF has no array tokenizer.ggml.token_type");
  EXPECT_EQ(errorAfter([](auto &m) {
              for (auto &entry : m)
                if (entry.first == "tokenizer.ggml.model") entry.second = gguf::Value::makeBool(true);
            }),
            "the GGUF has no string tokenizer.ggml.model");
  std::string outOfRange = errorAfter([](auto &m) {
    for (auto &entry : m)
      if (entry.first == "tokenizer.ggml.eos_token_id")
        entry.second = gguf::Value::makeUnsigned(gguf::ValueType::U32, 9999);
  });
  EXPECT_NE(outOfRange.find("9999"), std::string::npos) << outOfRange;
}

} // namespace
} // namespace granite::codegen
