// A GGUF file as granitec reads it: the container (header, metadata, tensor table), the Granite config and tensor
// validation, the model source, and the tokenizer metadata with the tokenizer built from it. Hostile files may only
// end in the documented errors.
#include "FuzzSupport.h"

#include "Frontend/GraniteConfig.h"
#include "Frontend/ModelSource.h"

using namespace granite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::shared_ptr<const MappedFile> bytes = MappedFile::fromBytes({data, data + size}, "fuzz.gguf");
  std::optional<gguf::File> file;
  try {
    file = gguf::File::parse(bytes);
  } catch (const gguf::FormatError &) {
    return 0;
  }
  for (const gguf::TensorInfo &tensor : file->tensors())
    fuzz::require(tensor.data >= bytes->data() &&
                      tensor.byteSize <= uint64_t(bytes->data() + bytes->size() - tensor.data),
                  "every tensor's bytes lie inside the file");
  try {
    const GraniteConfig config = loadGraniteConfig(*file);
    modelSourceFromGGUF(*file, config);
  } catch (const gguf::FormatError &) { // ConfigError included
  }
  try {
    codegen::chatTemplateFromGGUF(*file);
    runtime::Tokenizer tokenizer(codegen::vocabularyFromGGUF(*file));
    const std::string text = "Hello <|start_of_role|>user<|end_of_role|> w\xc3\xb6rld \xf0\x9f\x98\x80 123";
    fuzz::require(tokenizer.decode(tokenizer.encode(text, true), true) == text, "decode(encode(text)) == text");
  } catch (const runtime::VocabularyError &) {
  }
  return 0;
}
