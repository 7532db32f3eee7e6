// The tokenizer a Hugging Face folder carries (tokenizer.json, tokenizer_config.json), in the form granitec embeds
// into the executable: the same runtime Vocabulary llama.cpp's converter would write into a GGUF.
#pragma once

#include "runtime/Vocabulary.h"

#include <cstdint>
#include <string>

namespace granite::codegen {

/// tokenizer.json (byte-level BPE: model.vocab, model.merges, added_tokens, the pre-tokenizer) and
/// tokenizer_config.json (bos/eos/pad/unk tokens, add_bos_token) as a validated Vocabulary of `vocabRows` tokens:
/// ids without a token become "[PAD<id>]" of type unused, as the converter pads them; added tokens marked special
/// become control tokens, the others user-defined. Throws runtime::VocabularyError naming the file and entry.
runtime::Vocabulary vocabularyFromHuggingFace(const std::string &folder, uint32_t vocabRows);

/// The chat template of tokenizer_config.json ("chat_template") or chat_template.jinja; "" when there is none.
std::string chatTemplateFromHuggingFace(const std::string &folder);

} // namespace granite::codegen
