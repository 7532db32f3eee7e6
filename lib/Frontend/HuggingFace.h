// Hugging Face frontend: a folder with config.json (model_type granitemoehybrid) and model.safetensors or sharded
// model-*.safetensors with model.safetensors.index.json, turned into the same ModelSource the GGUF frontend makes.
// The converter's transformations (spec §3.3) become weight transforms applied on reading: gate/up split of the
// fused input_linear, A = -exp(A_log), conv1d squeeze, q/k rows from rotate_half to adjacent-pair order.
#pragma once

#include "Frontend/ModelSource.h"

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace granite {

/// The GraniteConfig of an HF config.json, named as the llama.cpp converter would write it: `granite` for
/// all-attention dense models, `granitemoe` for all-attention MoE, `granitehybrid` otherwise.
/// `vocabRows` is the row count of model.embed_tokens.weight. Throws ConfigError.
GraniteConfig graniteConfigFromHuggingFace(const nlohmann::json &config, uint32_t vocabRows);

/// Loads and validates an HF folder. Throws gguf::FormatError/ConfigError naming the file and the problem, or
/// std::system_error for I/O.
ModelSource loadHuggingFaceFolder(const std::string &folder);

/// True when `path` is a folder holding config.json (as opposed to a GGUF file).
bool isHuggingFaceFolder(const std::string &path);

} // namespace granite
