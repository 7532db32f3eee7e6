// Test utility: writes a Hugging Face folder (config.json, tokenizer.json, tokenizer_config.json and safetensors,
// optionally sharded with an index) from an F32 GGUF model, inverting the llama.cpp converter's mapping (spec §3.3).
// Written independently of the loaders so that a round trip through both checks each against the other.
#pragma once

#include "Frontend/GGUF.h"
#include "Frontend/GraniteConfig.h"

#include <filesystem>

namespace granite::testing {

/// `shards` = 1 writes model.safetensors; more writes model-0000k-of-0000n.safetensors and the index.
void writeHuggingFaceFolder(const gguf::File &gguf, const GraniteConfig &config, const std::filesystem::path &folder,
                            int shards);

} // namespace granite::testing
