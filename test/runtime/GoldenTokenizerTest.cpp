// The golden GGUFs' 512-token tokenizer (gpt2 BPE, pre "dbrx") loads from the GGUF arrays and round-trips text.
#include "Frontend/GGUF.h"
#include "runtime/Tokenizer.h"
#include "runtime/VocabularyBlob.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

std::vector<std::string> stringArray(const gguf::File &file, const char *key) {
  const gguf::Value *value = file.find(key);
  if (!value || !value->asArray()) throw std::runtime_error(std::string("missing ") + key);
  std::vector<std::string> strings;
  for (const gguf::Value &element : value->asArray()->elements) strings.emplace_back(*element.asString());
  return strings;
}

int32_t idOf(const gguf::File &file, const char *key) {
  const gguf::Value *value = file.find(key);
  return value ? static_cast<int32_t>(*value->asSigned()) : -1;
}

/// What the compiler does with a GGUF: read the tokenizer.ggml.* arrays into a Vocabulary.
Vocabulary vocabularyFromGguf(const std::string &path) {
  gguf::File file = gguf::File::open(path);
  Vocabulary v;
  v.model = std::string(*file.find("tokenizer.ggml.model")->asString());
  v.preTokenizer = std::string(*file.find("tokenizer.ggml.pre")->asString());
  v.tokens = stringArray(file, "tokenizer.ggml.tokens");
  v.merges = stringArray(file, "tokenizer.ggml.merges");
  const gguf::ArrayValue *types = file.find("tokenizer.ggml.token_type")->asArray();
  for (size_t i = 0; i < types->elements.size(); ++i)
    v.tokenTypes.push_back(tokenTypeFromInt(static_cast<int32_t>(*types->elements[i].asSigned()), i));
  v.bosId = idOf(file, "tokenizer.ggml.bos_token_id");
  v.eosId = idOf(file, "tokenizer.ggml.eos_token_id");
  v.padId = idOf(file, "tokenizer.ggml.padding_token_id");
  v.unknownId = idOf(file, "tokenizer.ggml.unknown_token_id");
  return v;
}

TEST(GoldenTokenizer, LoadsAndRoundTrips) {
  for (const char *model : {"dense-f32", "hybrid-f32", "moe-f32"}) {
    SCOPED_TRACE(model);
    Vocabulary vocabulary = vocabularyFromGguf(std::string(GRANITE_GOLDEN_DIR) + "/models/" + model + ".gguf");
    ASSERT_EQ(vocabulary.size(), 512);
    EXPECT_EQ(vocabulary.preTokenizer, "dbrx");
    EXPECT_EQ(vocabulary.merges.size(), 32u);
    EXPECT_EQ(vocabulary.eosId, 288);
    std::vector<uint8_t> blob = serializeVocabulary(vocabulary);
    Tokenizer tokenizer(deserializeVocabulary(blob.data(), blob.size()));

    const std::string text = "Hello, world! The 512-token vocabulary: 中文 🙂\r\n\ttabs  ";
    std::vector<int32_t> ids = tokenizer.encode(text, false);
    EXPECT_EQ(tokenizer.decode(ids, false), text);
    std::vector<int32_t> withEnd = tokenizer.encode("hi<|end_of_text|>", true);
    EXPECT_EQ(withEnd.back(), 288);
    EXPECT_TRUE(tokenizer.isEndOfGeneration(withEnd.back()));
  }
}

} // namespace
} // namespace granite::runtime::testing
