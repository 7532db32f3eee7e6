// ggml tensor element types as GGUF stores them: ids, names and block geometry.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace granite {

enum class GGMLType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

struct GGMLTypeTraits {
  GGMLType type;
  std::string_view name;
  uint32_t blockElements; ///< elements per block (1 for plain floats)
  uint32_t blockBytes;    ///< bytes per block
  bool dequantizable;     ///< granitec has a reference dequantizer for it
};

/// Traits of a type id read from a file, or nullopt for ids granitec does not know (IQ*, removed types, garbage).
std::optional<GGMLTypeTraits> ggmlTypeTraits(uint32_t id);
const GGMLTypeTraits &traitsOf(GGMLType type);
inline std::string_view ggmlTypeName(GGMLType type) { return traitsOf(type).name; }
std::optional<GGMLType> ggmlTypeFromName(std::string_view name);

} // namespace granite
