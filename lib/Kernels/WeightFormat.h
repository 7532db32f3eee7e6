// GGUF weight formats as seen by the kernel generators: names, block geometry, and Halide
// expressions that decode one element of a weight matrix from its raw GGUF bytes (spec §3.4).
// The decode expressions are inlined into the products, so quantized weights are expanded only in
// registers (matrix-vector) or in a per-tile scratch buffer (matrix-matrix), never as a whole copy.
#pragma once

#include "Halide.h"

#include <map>
#include <string>

namespace granite::kernels {

enum class WeightType { F32, F16, BF16, Q8_0, Q4_K, Q6_K };

inline const std::map<std::string, WeightType> &weightTypeNames() {
  static const std::map<std::string, WeightType> names = {
      {"f32", WeightType::F32},   {"f16", WeightType::F16},   {"bf16", WeightType::BF16},
      {"q8_0", WeightType::Q8_0}, {"q4_k", WeightType::Q4_K}, {"q6_k", WeightType::Q6_K}};
  return names;
}

/// Elements per block and bytes per block (1 element for the float types).
struct BlockGeometry {
  int elements;
  int bytes;
};

inline BlockGeometry blockGeometry(WeightType type) {
  switch (type) {
  case WeightType::F32: return {1, 4};
  case WeightType::F16:
  case WeightType::BF16: return {1, 2};
  case WeightType::Q8_0: return {32, 34};
  case WeightType::Q4_K: return {256, 144};
  case WeightType::Q6_K: return {256, 210};
  }
  return {1, 4};
}

inline bool isBlockQuantized(WeightType type) { return blockGeometry(type).elements > 1; }

/// Element type of the weight buffer: f32 for F32, raw 16-bit words for F16/BF16, bytes otherwise.
inline Halide::Type weightStorageType(WeightType type) {
  switch (type) {
  case WeightType::F32: return Halide::Float(32);
  case WeightType::F16:
  case WeightType::BF16: return Halide::UInt(16);
  default: return Halide::UInt(8);
  }
}

/// Decodes element k of row `row` of a float-type weight buffer (F32, F16 or BF16).
inline Halide::Expr decodeFloatElement(WeightType type, const Halide::Func &weights,
                                       const Halide::Expr &k, const Halide::Expr &row) {
  using namespace Halide;
  Expr raw = weights(k, row);
  switch (type) {
  case WeightType::F16: return cast<float>(reinterpret(Float(16), raw));
  case WeightType::BF16: return reinterpret(Float(32), cast<uint32_t>(raw) << 16);
  default: return raw;
  }
}

namespace detail {
/// The fp16 block scale at byte `offset` of `row`, as f32. Halide's generic half conversion is a
/// branchy scalar sequence on x86; scales are finite, so the exponent-rebias trick is exact here
/// (normals, subnormals and zero): place the 15 magnitude bits in an f32 and multiply by 2^112.
inline Halide::Expr halfAt(const Halide::Func &bytes, const Halide::Expr &offset,
                           const Halide::Expr &row) {
  using namespace Halide;
  Expr bits = cast<uint32_t>(bytes(offset, row)) | (cast<uint32_t>(bytes(offset + 1, row)) << 8);
  Expr magnitude = reinterpret(Float(32), (bits & 0x7fff) << 13) * 5.192296858534828e+33f;
  return select((bits & 0x8000) != 0, -magnitude, magnitude);
}

} // namespace detail

// A block-quantized element is scale(group) * quant - offset(group), where a group is 16
// consecutive elements sharing one scale (Q8_0's two halves share d). Keeping the three parts
// apart lets the products compute the per-group scales once per block and row, as one vector,
// instead of re-deriving them from the packed bytes for every vector of quants.

/// Groups of 16 elements per block.
inline int scaleGroups(WeightType type) { return blockGeometry(type).elements / 16; }

/// True when the format subtracts a per-group offset (Q4_K's dmin * m).
inline bool hasGroupOffset(WeightType type) { return type == WeightType::Q4_K; }

/// The f32 multiplier of group `group` (elements 16*group .. 16*group+15) of block `block`.
inline Halide::Expr groupScale(WeightType type, const Halide::Func &bytes,
                               const Halide::Expr &group, const Halide::Expr &block,
                               const Halide::Expr &row) {
  using namespace Halide;
  using detail::halfAt;
  switch (type) {
  case WeightType::Q8_0: return halfAt(bytes, block * 34, row);
  case WeightType::Q4_K: { // 6-bit scale sc[j] of sub-block j = group/2 (spec §3.4)
    Expr base = block * 144, j = group / 2;
    auto scaleByte = [&](Expr i) { return bytes(base + 4 + i, row); };
    // The j-4 index is clamped so that bounds inference never looks before the block.
    Expr scale = select(j < 4, scaleByte(j) & 63,
                        (scaleByte(j + 4) & 0xF) | ((scaleByte(max(j - 4, 0)) >> 6) << 4));
    return halfAt(bytes, base, row) * cast<float>(scale);
  }
  case WeightType::Q6_K: { // int8 sc[8*half + l/16 + 2*quarter] for element 32*(4*half+quarter)+l
    Expr base = block * 210, j = group / 2;
    Expr index = 8 * (j / 4) + group % 2 + 2 * (j % 4);
    return halfAt(bytes, base + 208, row) * cast<float>(reinterpret(Int(8), bytes(base + 192 + index, row)));
  }
  default: return Expr();
  }
}

/// The f32 offset subtracted from group `group` (Q4_K: dmin * m[j]); 0 for the other formats.
inline Halide::Expr groupOffset(WeightType type, const Halide::Func &bytes,
                                const Halide::Expr &group, const Halide::Expr &block,
                                const Halide::Expr &row) {
  using namespace Halide;
  if (type != WeightType::Q4_K)
    return 0.0f;
  Expr base = block * 144, j = group / 2;
  auto scaleByte = [&](Expr i) { return bytes(base + 4 + i, row); };
  Expr minimum = select(j < 4, scaleByte(j + 4) & 63,
                        (scaleByte(j + 4) >> 4) | ((scaleByte(j) >> 6) << 4));
  return detail::halfAt(bytes, base + 2, row) * cast<float>(minimum);
}

/// The quant of element 32*subBlock + lane of block `block` (lane in [0, 32)), as f32.
/// Products vectorize over `lane`, so every byte load is contiguous.
inline Halide::Expr blockQuant(WeightType type, const Halide::Func &bytes, const Halide::Expr &lane,
                               const Halide::Expr &subBlock, const Halide::Expr &block,
                               const Halide::Expr &row) {
  using namespace Halide;
  switch (type) {
  case WeightType::Q8_0: // half d; int8 q[32]
    return cast<float>(reinterpret(Int(8), bytes(block * 34 + 2 + lane, row)));
  case WeightType::Q4_K: { // half d; half dmin; u8 scales[12]; u8 qs[128]
    Expr packed = bytes(block * 144 + 16 + 32 * (subBlock / 2) + lane, row);
    return cast<float>(select(subBlock % 2 == 0, packed & 0xF, packed >> 4));
  }
  case WeightType::Q6_K: { // u8 ql[128]; u8 qh[64]; int8 sc[16]; half d
    Expr base = block * 210;
    Expr half = subBlock / 4;    // which 128-element half
    Expr quarter = subBlock % 4; // q1..q4 of the spec
    Expr lowByte = bytes(base + 64 * half + 32 * (quarter % 2) + lane, row);
    Expr low = select(quarter / 2 == 0, lowByte & 0xF, lowByte >> 4);
    Expr highBits = (bytes(base + 128 + 32 * half + lane, row) >> (2 * quarter)) & 3;
    return cast<float>(cast<int>(low | (highBits << 4)) - 32);
  }
  default: return Expr();
  }
}

// ---- Integer dot products on quantized activations (the `quantized_dot` path) ----
//
// The activations are quantized as ggml does before its vec_dot: Q8_0 (32 per block, fp16 scale)
// for Q8_0 weights, Q8_K (256 per block, f32 scale) for the K-quants. Each 32-element sub-block
// of a row is then one integer dot product of unsigned weight codes with the signed activation
// quants (VNNI vpdpbusd: u8 x s8, four products per i32 lane).

/// Elements per block of quantized activations that pair with `type` weights (32 or 256).
inline int activationBlock(WeightType type) { return type == WeightType::Q8_0 ? 32 : 256; }

/// The unsigned 8-bit code of element 32*subBlock + lane of block `block`, such that the quant is
/// code - codeBias(type): Q4_K's nibble, Q6_K's 6-bit value, Q8_0's int8 + 128.
inline Halide::Expr blockCode(WeightType type, const Halide::Func &bytes, const Halide::Expr &lane,
                              const Halide::Expr &subBlock, const Halide::Expr &block,
                              const Halide::Expr &row) {
  using namespace Halide;
  switch (type) {
  case WeightType::Q8_0:
    return bytes(block * 34 + 2 + lane, row) ^ cast<uint8_t>(0x80);
  case WeightType::Q4_K: {
    Expr packed = bytes(block * 144 + 16 + 32 * (subBlock / 2) + lane, row);
    return select(subBlock % 2 == 0, packed & cast<uint8_t>(0xF), packed >> 4);
  }
  case WeightType::Q6_K: {
    Expr base = block * 210, half = subBlock / 4, quarter = subBlock % 4;
    Expr lowByte = bytes(base + 64 * half + 32 * (quarter % 2) + lane, row);
    Expr low = select(quarter / 2 == 0, lowByte & cast<uint8_t>(0xF), lowByte >> 4);
    Expr high = (bytes(base + 128 + 32 * half + lane, row) >> cast<uint8_t>(2 * quarter)) &
                cast<uint8_t>(3);
    return low | (high << 4);
  }
  default: return Expr();
  }
}

/// The integer factor of groupScale (the 6-bit or int8 sub-scale; 1 for Q8_0), as f32.
inline Halide::Expr groupScaleCode(WeightType type, const Halide::Func &bytes,
                                   const Halide::Expr &group, const Halide::Expr &block,
                                   const Halide::Expr &row) {
  using namespace Halide;
  switch (type) {
  case WeightType::Q4_K: {
    Expr base = block * 144, j = group / 2;
    auto scaleByte = [&](Expr i) { return bytes(base + 4 + i, row); };
    return cast<float>(select(j < 4, scaleByte(j) & 63,
                              (scaleByte(j + 4) & 0xF) | ((scaleByte(max(j - 4, 0)) >> 6) << 4)));
  }
  case WeightType::Q6_K:
    return cast<float>(reinterpret(Int(8), bytes(block * 210 + 192 + group, row)));
  default: return 1.0f;
  }
}

/// The integer factor of groupOffset (Q4_K's 6-bit m), as f32.
inline Halide::Expr groupOffsetCode(const Halide::Func &bytes, const Halide::Expr &group,
                                    const Halide::Expr &block, const Halide::Expr &row) {
  using namespace Halide;
  Expr base = block * 144, j = group / 2;
  auto scaleByte = [&](Expr i) { return bytes(base + 4 + i, row); };
  return cast<float>(select(j < 4, scaleByte(j + 4) & 63,
                            (scaleByte(j + 4) >> 4) | ((scaleByte(max(j, 0)) >> 6) << 4)));
}

/// fp16 block scales per row: Q4_K has two per block (d at i = 2b, dmin at 2b+1), the others one
/// (d of block i). Returns the count per row and the byte offset of scale i.
inline int halfScalesPerBlock(WeightType type) { return type == WeightType::Q4_K ? 2 : 1; }
inline Halide::Expr halfScaleOffset(WeightType type, const Halide::Expr &i) {
  switch (type) {
  case WeightType::Q4_K: return 144 * (i / 2) + 2 * (i % 2);
  case WeightType::Q6_K: return 210 * i + 208;
  default: return 34 * i;
  }
}

/// What blockCode adds to the quant: 128 (Q8_0), 32 (Q6_K) or 0 (Q4_K, whose nibbles are the quants).
inline int codeBias(WeightType type) {
  switch (type) {
  case WeightType::Q8_0: return 128;
  case WeightType::Q6_K: return 32;
  default: return 0;
  }
}

/// One decoded element of a block-quantized row: element 32*subBlock + lane of block `block`.
inline Halide::Expr decodeBlockElement(WeightType type, const Halide::Func &bytes,
                                       const Halide::Expr &lane, const Halide::Expr &subBlock,
                                       const Halide::Expr &block, const Halide::Expr &row) {
  Halide::Expr group = 2 * subBlock + lane / 16;
  Halide::Expr value = groupScale(type, bytes, group, block, row) *
                       blockQuant(type, bytes, lane, subBlock, block, row);
  if (hasGroupOffset(type))
    value -= groupOffset(type, bytes, group, block, row);
  return value;
}

} // namespace granite::kernels
