// Synthetic Granite 4.0 models (`granitec synth`): a GGUF with a published variant's real shapes, metadata keys,
// tokenizer and chat template, and seeded random weights conditioned like the golden models
// (../shared/golden/README.md, "Weight generation"), so a compiled model produces finite, non-degenerate logits.
#pragma once

#include "Frontend/GGUFWriter.h"
#include "Frontend/GraniteConfig.h"
#include "runtime/Vocabulary.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace granite {

enum class SynthDtype { F32, BF16, Q8_0, Q4_K_M };

/// "f32", "bf16", "q8_0", "q4_k_m"; nullopt for anything else.
std::optional<SynthDtype> synthDtypeFromName(const std::string &name);
const char *synthDtypeName(SynthDtype dtype);

/// The config of `variant` cut to its first `layers` layers (all of them when nullopt). When the variant has
/// attention layers but none falls among the first `layers`, the last kept layer becomes an attention layer, so
/// a shrunk hybrid still exercises both mixers. Throws std::invalid_argument for an unknown variant or a layer
/// count outside 1..the variant's count.
GraniteConfig synthConfig(const std::string &variant, std::optional<uint32_t> layers);

/// The element type `granitec synth` stores tensor `name` in. 1-D, norm, SSM and router tensors stay F32 in every
/// dtype; q4_k_m follows llama.cpp's Q4_K_M mix (spec §3.4): Q6_K for token_embd/output, for attn_v where
/// use_more_bits(index among attn_v tensors, attn_v count) holds and for ffn_down where use_more_bits(layer,
/// layer count) holds; Q4_K otherwise.
GGMLType synthTensorType(const GraniteConfig &config, const ExpectedTensor &tensor, SynthDtype dtype);

/// The Granite 4.0 chat template written as tokenizer.chat_template (spec §5).
const std::string &graniteChatTemplate();

/// Where the build put the cl100k ranks file (scripts/node/export-cl100k.mjs), or "" when it could not make one.
std::string defaultCl100kRanksPath();

struct SynthProgress {
  size_t tensorIndex; ///< 1-based
  size_t tensorCount;
  std::string_view tensorName;
  uint64_t bytesWritten; ///< tensor data written so far, this tensor included
  uint64_t totalBytes;   ///< all tensor data
};

/// A writer for the model: metadata (spec §3.2 keys under the config's architecture, `vocabulary` as
/// tokenizer.ggml.*, the chat template) and one tensor per expectedTensors(config) entry, whose bytes are
/// generated row by row when the writer asks for them. Same config, dtype and seed give the same bytes.
/// `vocabulary` must outlive the writer (its strings are not copied); `progress` is called after each tensor.
gguf::Writer synthesizeModel(const GraniteConfig &config, SynthDtype dtype, uint64_t seed,
                             const runtime::Vocabulary &vocabulary,
                             std::function<void(const SynthProgress &)> progress = {});

} // namespace granite
