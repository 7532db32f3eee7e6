// Builds the IBM Granite 4.0 tokenizer metadata (spec §4) from OpenAI's cl100k_base ranks: ids 0..100255 are the
// cl100k tokens, 100256..100283 IBM's added tokens, and [PAD<id>] fillers pad the table to 100352 entries.
// `granitec synth` writes the result as GGUF `tokenizer.ggml.*` metadata.
#pragma once

#include "runtime/Vocabulary.h"

#include <string>
#include <vector>

namespace granite::runtime {

constexpr int32_t kGraniteBaseTokenCount = 100256; ///< cl100k_base ranks
constexpr int32_t kGraniteFirstPaddingId = 100284; ///< first [PAD…] filler
constexpr int32_t kGraniteVocabularySize = 100352; ///< padded embedding rows
constexpr int32_t kGraniteEndOfTextId = 100257;    ///< BOS = EOS = EOT
constexpr int32_t kGranitePadId = 100256;
constexpr int32_t kGraniteUnknownId = 100269;

/// Recovers GGUF merges from tiktoken ranks: for each multi-byte token (in rank order), BPE over its bytes using
/// only lower-ranked tokens must end in exactly two parts "a b". Throws VocabularyError when it does not.
std::vector<std::string> mergesFromRanks(const std::vector<std::string> &rankBytes);

/// The full Granite vocabulary. `cl100kRankBytes` are the token bytes by rank (see readTiktokenRanks) and must hold
/// exactly kGraniteBaseTokenCount entries.
Vocabulary buildGraniteVocabulary(const std::vector<std::string> &cl100kRankBytes);

} // namespace granite::runtime
