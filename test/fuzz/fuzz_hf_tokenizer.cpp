// A Hugging Face tokenizer: tokenizer.json, then after a NUL byte tokenizer_config.json (absent without one), read
// the way granitec reads an HF folder; the vocabulary it yields must build a tokenizer that encodes byte exactly.
#include "FuzzSupport.h"

#include "Codegen/HuggingFaceVocabulary.h"

#include <filesystem>

using namespace granite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string folder = [] {
    const std::string path = fuzz::scratchPath("hf");
    std::filesystem::create_directories(path);
    return path;
  }();
  const auto [tokenizerJson, tokenizerConfig] = fuzz::splitAtNul(data, size);
  fuzz::writeFile(folder + "/tokenizer.json", tokenizerJson);
  std::filesystem::remove(folder + "/tokenizer_config.json");
  if (tokenizerJson.size() < size) fuzz::writeFile(folder + "/tokenizer_config.json", tokenizerConfig);
  try {
    codegen::chatTemplateFromHuggingFace(folder);
    runtime::Tokenizer tokenizer(codegen::vocabularyFromHuggingFace(folder, 512));
    const std::string text = "Hello <|start_of_role|>user<|end_of_role|> w\xc3\xb6rld \xf0\x9f\x98\x80 123";
    fuzz::require(tokenizer.decode(tokenizer.encode(text, true), true) == text, "decode(encode(text)) == text");
  } catch (const runtime::VocabularyError &) {
  }
  return 0;
}
