// The published Granite 4.0 variants (spec §1): their configs, and which one a model's shapes match.
#pragma once

#include "Frontend/GraniteConfig.h"

#include <optional>
#include <string>
#include <vector>

namespace granite {

/// Short names: "h-350m", "350m", "h-1b", "1b", "h-micro", "micro", "h-tiny".
const std::vector<std::string> &variantNames();

/// The full config of a named variant (shapes, multipliers, context), or nullopt for an unknown name.
std::optional<GraniteConfig> variantConfig(const std::string &name);

/// The variant whose shapes `config` has (architecture, widths, layer map, heads, FFN/experts, SSM sizes,
/// vocabulary), or "custom". Multipliers and context length do not take part.
std::string matchVariant(const GraniteConfig &config);

} // namespace granite
