// The tokenizer a GGUF carries, in the form granitec embeds into the executable (runtime/VocabularyBlob.h).
#pragma once

#include "Frontend/GGUF.h"
#include "runtime/Vocabulary.h"

#include <string>

namespace granite::codegen {

/// The tokenizer.ggml.* metadata as a validated runtime Vocabulary. Throws runtime::VocabularyError naming the
/// missing or malformed key.
runtime::Vocabulary vocabularyFromGGUF(const gguf::File &file);

/// tokenizer.chat_template, or "" when the GGUF has none.
std::string chatTemplateFromGGUF(const gguf::File &file);

} // namespace granite::codegen
