// The weight formats granitec knows, one row each, in the style of ggml's type_traits. Every layer derives its view
// of a format from this table: the GGUF reader (ids, block geometry), the dialect's `WeightFormat` (the importable
// rows, checked against it in GraniteTypes.cpp), the kernels' `weight_type` parameter and buffer types (the rows
// with kernels), and the weight packer (kernel order). Adding a format is a row here plus its kernels.
// Plain constexpr C++ with no dependencies, so that every layer may include it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace granite {

/// ggml's type ids, as GGUF stores them.
enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

/// Element type of a kernel's weight buffer: f32 as is, F16/BF16 as raw 16-bit words, blocks as bytes.
enum class WeightStorage { F32, U16, U8 };

/// The byte order of the blocks granitec stores for its kernels.
enum class BlockOrder {
  GGUF,   ///< as in the file
  Kernel, ///< rearranged so the integer products scale each lane once per block (lib/Kernels/KernelWeightOrder.h)
};

struct GGMLTypeTraits {
  GGMLType type;
  std::string_view name;     ///< ggml's spelling, "Q4_K"
  std::string_view mnemonic; ///< granitec's spelling in the IR and the kernels' `weight_type`, "q4_k"
  uint32_t blockElements;    ///< elements per block (1 for plain floats)
  uint32_t blockBytes;       ///< bytes per block
  WeightStorage storage;
  BlockOrder order;
  bool dequantizable; ///< granitec imports it: a matrix may use it, the reference dequantizer and the dialect have it
  bool kernels;       ///< the Halide products decode it (lib/Kernels/WeightFormat.h)

  constexpr bool quantized() const { return blockElements > 1; }
};

inline constexpr std::array<GGMLTypeTraits, 15> kGGMLTypes = {{
    // type, name, mnemonic, block elements, block bytes, storage, order, dequantizable, kernels
    {GGMLType::F32, "F32", "f32", 1, 4, WeightStorage::F32, BlockOrder::GGUF, true, true},
    {GGMLType::F16, "F16", "f16", 1, 2, WeightStorage::U16, BlockOrder::GGUF, true, true},
    {GGMLType::Q4_0, "Q4_0", "q4_0", 32, 18, WeightStorage::U8, BlockOrder::GGUF, true, false},
    {GGMLType::Q4_1, "Q4_1", "q4_1", 32, 20, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::Q5_0, "Q5_0", "q5_0", 32, 22, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::Q5_1, "Q5_1", "q5_1", 32, 24, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::Q8_0, "Q8_0", "q8_0", 32, 34, WeightStorage::U8, BlockOrder::GGUF, true, true},
    {GGMLType::Q8_1, "Q8_1", "q8_1", 32, 36, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::Q2_K, "Q2_K", "q2_k", 256, 84, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::Q3_K, "Q3_K", "q3_k", 256, 110, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::Q4_K, "Q4_K", "q4_k", 256, 144, WeightStorage::U8, BlockOrder::Kernel, true, true},
    {GGMLType::Q5_K, "Q5_K", "q5_k", 256, 176, WeightStorage::U8, BlockOrder::GGUF, true, false},
    {GGMLType::Q6_K, "Q6_K", "q6_k", 256, 210, WeightStorage::U8, BlockOrder::Kernel, true, true},
    {GGMLType::Q8_K, "Q8_K", "q8_k", 256, 292, WeightStorage::U8, BlockOrder::GGUF, false, false},
    {GGMLType::BF16, "BF16", "bf16", 1, 2, WeightStorage::U16, BlockOrder::GGUF, true, true},
}};

/// Traits of a type id read from a file, or nullopt for ids granitec does not know (IQ*, removed types, garbage).
constexpr std::optional<GGMLTypeTraits> ggmlTypeTraits(uint32_t id) {
  for (const GGMLTypeTraits &traits : kGGMLTypes)
    if (static_cast<uint32_t>(traits.type) == id) return traits;
  return std::nullopt;
}

/// Every GGMLType value has a row: the enum lists exactly the table's ids.
constexpr const GGMLTypeTraits &traitsOf(GGMLType type) {
  for (const GGMLTypeTraits &traits : kGGMLTypes)
    if (traits.type == type) return traits;
  return kGGMLTypes[0];
}

constexpr std::string_view ggmlTypeName(GGMLType type) { return traitsOf(type).name; }

/// The row whose mnemonic is `mnemonic` ("q4_k"), or nullopt.
constexpr std::optional<GGMLTypeTraits> ggmlTypeOfMnemonic(std::string_view mnemonic) {
  for (const GGMLTypeTraits &traits : kGGMLTypes)
    if (traits.mnemonic == mnemonic) return traits;
  return std::nullopt;
}

namespace detail {
/// The table's own invariants: one row per id, mnemonics are the lower-case names, storage follows the geometry.
constexpr bool rowIsConsistent(const GGMLTypeTraits &traits) {
  if (traits.name.size() != traits.mnemonic.size()) return false;
  for (size_t i = 0; i < traits.name.size(); ++i) {
    const char upper = traits.name[i], lower = traits.mnemonic[i];
    if (lower != (upper >= 'A' && upper <= 'Z' ? char(upper - 'A' + 'a') : upper)) return false;
  }
  const WeightStorage storage =
      !traits.quantized() ? (traits.blockBytes == 4 ? WeightStorage::F32 : WeightStorage::U16) : WeightStorage::U8;
  return traits.storage == storage && (traits.order == BlockOrder::GGUF || traits.quantized());
}

constexpr bool tableIsConsistent() {
  for (size_t i = 0; i < kGGMLTypes.size(); ++i) {
    if (!rowIsConsistent(kGGMLTypes[i])) return false;
    for (size_t j = 0; j < i; ++j)
      if (kGGMLTypes[j].type == kGGMLTypes[i].type) return false;
  }
  return true;
}
} // namespace detail

static_assert(detail::tableIsConsistent(), "kGGMLTypes: duplicate id, or a mnemonic or storage that disagrees");

} // namespace granite
