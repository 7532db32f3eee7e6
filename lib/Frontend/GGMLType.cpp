#include "Frontend/GGMLType.h"

#include <array>
#include <cassert>
#include <cctype>

namespace granite {
namespace {
constexpr std::array<GGMLTypeTraits, 15> kTypes = {{
    {GGMLType::F32, "F32", 1, 4, true},
    {GGMLType::F16, "F16", 1, 2, true},
    {GGMLType::Q4_0, "Q4_0", 32, 18, true},
    {GGMLType::Q4_1, "Q4_1", 32, 20, false},
    {GGMLType::Q5_0, "Q5_0", 32, 22, false},
    {GGMLType::Q5_1, "Q5_1", 32, 24, false},
    {GGMLType::Q8_0, "Q8_0", 32, 34, true},
    {GGMLType::Q8_1, "Q8_1", 32, 36, false},
    {GGMLType::Q2_K, "Q2_K", 256, 84, false},
    {GGMLType::Q3_K, "Q3_K", 256, 110, false},
    {GGMLType::Q4_K, "Q4_K", 256, 144, true},
    {GGMLType::Q5_K, "Q5_K", 256, 176, true},
    {GGMLType::Q6_K, "Q6_K", 256, 210, true},
    {GGMLType::Q8_K, "Q8_K", 256, 292, false},
    {GGMLType::BF16, "BF16", 1, 2, true},
}};
} // namespace

std::optional<GGMLTypeTraits> ggmlTypeTraits(uint32_t id) {
  for (const auto &t : kTypes)
    if (static_cast<uint32_t>(t.type) == id)
      return t;
  return std::nullopt;
}

const GGMLTypeTraits &traitsOf(GGMLType type) {
  for (const auto &t : kTypes)
    if (t.type == type)
      return t;
  assert(false && "GGMLType value outside the table");
  return kTypes[0];
}

std::optional<GGMLType> ggmlTypeFromName(std::string_view name) {
  for (const auto &t : kTypes) {
    if (t.name.size() != name.size())
      continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = std::toupper(static_cast<unsigned char>(name[i])) == t.name[i];
    if (same)
      return t.type;
  }
  return std::nullopt;
}

} // namespace granite
