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

/// Decodes one element of a block-quantized row from its bytes (u8 buffer [row_bytes, rows]).
/// The element is number 32*subBlock + lane of block `block`, with lane in [0, 32) and subBlock
/// in [0, elements/32). Products vectorize over `lane`, so every byte load is contiguous, and
/// unroll `subBlock`, so the scale arithmetic folds to scalars per block.
inline Halide::Expr decodeBlockElement(WeightType type, const Halide::Func &bytes,
                                       const Halide::Expr &lane, const Halide::Expr &subBlock,
                                       const Halide::Expr &block, const Halide::Expr &row) {
  using namespace Halide;
  using detail::halfAt;
  switch (type) {
  case WeightType::Q8_0: { // half d; int8 q[32]
    Expr base = block * 34;
    Expr q = reinterpret(Int(8), bytes(base + 2 + lane, row));
    return halfAt(bytes, base, row) * cast<float>(q);
  }
  case WeightType::Q4_K: { // half d; half dmin; u8 scales[12]; u8 qs[128]
    Expr base = block * 144;
    auto scaleByte = [&](Expr i) { return bytes(base + 4 + i, row); };
    const Expr &j = subBlock;
    Expr low = j < 4;
    // The j-4 index is clamped so that bounds inference never looks before the block.
    Expr scale = select(low, scaleByte(j) & 63,
                        (scaleByte(j + 4) & 0xF) | ((scaleByte(max(j - 4, 0)) >> 6) << 4));
    Expr minimum = select(low, scaleByte(j + 4) & 63,
                          (scaleByte(j + 4) >> 4) | ((scaleByte(j) >> 6) << 4));
    Expr packed = bytes(base + 16 + 32 * (j / 2) + lane, row);
    Expr nibble = select(j % 2 == 0, packed & 0xF, packed >> 4);
    Expr d = halfAt(bytes, base, row), dmin = halfAt(bytes, base + 2, row);
    return d * cast<float>(scale) * cast<float>(nibble) - dmin * cast<float>(minimum);
  }
  case WeightType::Q6_K: { // u8 ql[128]; u8 qh[64]; int8 sc[16]; half d
    Expr base = block * 210;
    Expr half = subBlock / 4;    // which 128-element half
    Expr quarter = subBlock % 4; // q1..q4 of the spec
    Expr lowByte = bytes(base + 64 * half + 32 * (quarter % 2) + lane, row);
    Expr low = select(quarter / 2 == 0, lowByte & 0xF, lowByte >> 4);
    Expr highBits = (bytes(base + 128 + 32 * half + lane, row) >> (2 * quarter)) & 3;
    Expr q = cast<int>(low | (highBits << 4)) - 32;
    Expr scale = reinterpret(Int(8), bytes(base + 192 + 8 * half + lane / 16 + 2 * quarter, row));
    return halfAt(bytes, base + 208, row) * cast<float>(scale) * cast<float>(q);
  }
  default: return Expr();
  }
}

} // namespace granite::kernels
