#include "Codegen/GGUFVocabulary.h"

namespace granite::codegen {
namespace {

using runtime::VocabularyError;

std::string stringValue(const gguf::File &file, const char *key) {
  const gguf::Value *value = file.find(key);
  std::optional<std::string_view> text = value ? value->asString() : std::nullopt;
  if (!text) throw VocabularyError(std::string("the GGUF has no string ") + key);
  return std::string(*text);
}

std::vector<std::string> stringArray(const gguf::File &file, const char *key, bool required) {
  const gguf::Value *value = file.find(key);
  if (!value) {
    if (required) throw VocabularyError(std::string("the GGUF has no ") + key);
    return {};
  }
  if (!value->asArray()) throw VocabularyError(std::string(key) + " is not an array");
  std::vector<std::string> strings;
  for (const gguf::Value &element : value->asArray()->elements) {
    std::optional<std::string_view> text = element.asString();
    if (!text) throw VocabularyError(std::string(key) + " holds a non-string element");
    strings.emplace_back(*text);
  }
  return strings;
}

/// A special token id, -1 when the key is absent.
int32_t tokenId(const gguf::File &file, const char *key) {
  const gguf::Value *value = file.find(key);
  if (!value) return -1;
  std::optional<int64_t> id = value->asSigned();
  if (!id || *id < -1 || *id > INT32_MAX) throw VocabularyError(std::string(key) + " is not a token id");
  return static_cast<int32_t>(*id);
}

} // namespace

runtime::Vocabulary vocabularyFromGGUF(const gguf::File &file) {
  runtime::Vocabulary vocabulary;
  vocabulary.model = stringValue(file, "tokenizer.ggml.model");
  const gguf::Value *pre = file.find("tokenizer.ggml.pre");
  if (pre) vocabulary.preTokenizer = stringValue(file, "tokenizer.ggml.pre");
  vocabulary.tokens = stringArray(file, "tokenizer.ggml.tokens", true);
  vocabulary.merges = stringArray(file, "tokenizer.ggml.merges", false);
  const gguf::Value *types = file.find("tokenizer.ggml.token_type");
  if (!types || !types->asArray()) throw VocabularyError("the GGUF has no array tokenizer.ggml.token_type");
  for (size_t i = 0; i < types->asArray()->elements.size(); ++i) {
    std::optional<int64_t> type = types->asArray()->elements[i].asSigned();
    if (!type || *type < INT32_MIN || *type > INT32_MAX)
      throw VocabularyError("tokenizer.ggml.token_type[" + std::to_string(i) + "] is not an integer");
    vocabulary.tokenTypes.push_back(runtime::tokenTypeFromInt(static_cast<int32_t>(*type), i));
  }
  vocabulary.bosId = tokenId(file, "tokenizer.ggml.bos_token_id");
  vocabulary.eosId = tokenId(file, "tokenizer.ggml.eos_token_id");
  vocabulary.padId = tokenId(file, "tokenizer.ggml.padding_token_id");
  vocabulary.unknownId = tokenId(file, "tokenizer.ggml.unknown_token_id");
  if (const gguf::Value *addBos = file.find("tokenizer.ggml.add_bos_token")) {
    std::optional<bool> flag = addBos->asBool();
    if (!flag) throw VocabularyError("tokenizer.ggml.add_bos_token is not a boolean");
    vocabulary.addBos = *flag;
  }
  runtime::validateVocabulary(vocabulary);
  return vocabulary;
}

std::string chatTemplateFromGGUF(const gguf::File &file) {
  return file.find("tokenizer.chat_template") ? stringValue(file, "tokenizer.chat_template") : "";
}

} // namespace granite::codegen
