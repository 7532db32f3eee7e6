// GGUF weight formats as seen by the kernel generators: the `weight_type` names and buffer types of
// the table's rows with kernels (lib/Format/GGMLType.h), and Halide expressions that decode one
// element of a weight matrix from its raw GGUF bytes (spec §3.4). Q4_K and Q6_K blocks are the
// exception: granitec stores them in kernel order (BlockOrder::Kernel, KernelWeightOrder.h), and
// their expressions here read that order.
// The decode expressions are inlined into the products, so quantized weights are expanded only in
// registers (matrix-vector) or in a per-tile scratch buffer (matrix-matrix), never as a whole copy.
#pragma once

#include "Format/GGMLType.h"
#include "Halide.h"

#include <map>
#include <string>

namespace granite::kernels {

/// The formats the products decode, by mnemonic: the values of the generators' `weight_type` parameter.
inline const std::map<std::string, GGMLType> &weightTypeNames() {
  static const std::map<std::string, GGMLType> names = [] {
    std::map<std::string, GGMLType> byMnemonic;
    for (const GGMLTypeTraits &traits : kGGMLTypes)
      if (traits.kernels) byMnemonic.emplace(traits.mnemonic, traits.type);
    return byMnemonic;
  }();
  return names;
}

/// Element type of the weight buffer (the table's storage).
inline Halide::Type weightStorageType(GGMLType type) {
  switch (traitsOf(type).storage) {
  case WeightStorage::F32: return Halide::Float(32);
  case WeightStorage::U16: return Halide::UInt(16);
  case WeightStorage::U8: return Halide::UInt(8);
  }
  return Halide::UInt(8);
}

/// Decodes element k of row `row` of a float-type weight buffer (F32, F16 or BF16).
inline Halide::Expr decodeFloatElement(GGMLType type, const Halide::Func &weights, const Halide::Expr &k,
                                       const Halide::Expr &row) {
  using namespace Halide;
  Expr raw = weights(k, row);
  switch (type) {
  case GGMLType::F16: return cast<float>(reinterpret(Float(16), raw));
  case GGMLType::BF16: return reinterpret(Float(32), cast<uint32_t>(raw) << 16);
  default: return raw;
  }
}

namespace detail {
/// The fp16 block scale at byte `offset` of `row`, as f32. Halide's generic half conversion is a
/// branchy scalar sequence on x86; scales are finite, so the exponent-rebias trick is exact here
/// (normals, subnormals and zero): place the 15 magnitude bits in an f32 and multiply by 2^112.
inline Halide::Expr halfAt(const Halide::Func &bytes, const Halide::Expr &offset, const Halide::Expr &row) {
  using namespace Halide;
  Expr bits = cast<uint32_t>(bytes(offset, row)) | (cast<uint32_t>(bytes(offset + 1, row)) << 8);
  Expr magnitude = reinterpret(Float(32), (bits & 0x7fff) << 13) * 5.192296858534828e+33f;
  return select((bits & 0x8000) != 0, -magnitude, magnitude);
}

} // namespace detail

// Q4_K in kernel order (KernelWeightOrder.h): byte 4 + j holds sub-block j's 6-bit scale and,
// in its top 2 bits, the top 2 bits of its 6-bit min; bits 4j..4j+3 of the little-endian word at
// byte 12 hold the min's low 4 bits; code byte 64 * u + 4 * l + q (u in [0, 2), l in [0, 16), q in
// [0, 4)) holds element 16 * (l / 8) + 8 * u + q of sub-block l % 8 in its low nibble and that
// element + 4 in its high nibble.

/// The 6-bit scale of sub-block j, as u8.
inline Halide::Expr q4kScale(const Halide::Func &bytes, const Halide::Expr &j, const Halide::Expr &block,
                             const Halide::Expr &row) {
  return bytes(block * 144 + 4 + j, row) & 63;
}

/// The 6-bit min of sub-block j, as u32.
inline Halide::Expr q4kMin(const Halide::Func &bytes, const Halide::Expr &j, const Halide::Expr &block,
                           const Halide::Expr &row) {
  using namespace Halide;
  Expr base = block * 144;
  Expr lowBits = cast<uint32_t>(bytes(base + 12, row)) | (cast<uint32_t>(bytes(base + 13, row)) << 8) |
                 (cast<uint32_t>(bytes(base + 14, row)) << 16) | (cast<uint32_t>(bytes(base + 15, row)) << 24);
  Expr high = cast<uint32_t>(bytes(base + 4 + j, row) >> 6);
  return ((lowBits >> cast<uint32_t>(4 * j)) & 0xF) | (high << 4);
}

/// Q6_K's int8 scale of 16-element group i in [0, 16) of a block, as i32.
inline Halide::Expr q6kScaleCode(const Halide::Func &bytes, const Halide::Expr &i, const Halide::Expr &block,
                                 const Halide::Expr &row) {
  using namespace Halide;
  return cast<int32_t>(reinterpret(Int(8), bytes(block * 210 + 192 + i, row)));
}

// The K-quants' codes in kernel order, as the quantized_dot products multiply them: 16 i32 lanes
// that each stay in one Q4_K sub-block (lane % 8) or Q6_K scale group (lane) for the whole block,
// so that a lane's integer sum is scaled once per block; step s in [0, 4) is one 512-bit
// vpdpbusd over 4 consecutive code bytes per lane. kQuantLaneElement is the element of the block
// that lane `lane` multiplies at `step` and `quad`: the order in which the activation quants are
// stored for the product.

/// The unsigned code in nibble `nibble` of code byte `codeByte` (in [0, 128)) of block `block`:
/// Q4_K's nibble; Q6_K's low 4 bits with its high 2 bits placed above them (32 + its quant),
/// from bits 2 * k of byte 128 + codeByte % 64, k = 2 * (codeByte / 64) + nibble.
inline Halide::Expr kQuantCode(GGMLType type, const Halide::Func &bytes, const Halide::Expr &codeByte,
                               const Halide::Expr &nibble, const Halide::Expr &block, const Halide::Expr &row) {
  using namespace Halide;
  const int blockBytes = traitsOf(type).blockBytes, codes = type == GGMLType::Q4_K ? 16 : 0;
  Expr packed = bytes(block * blockBytes + codes + codeByte, row);
  Expr low = select(nibble == 0, packed & cast<uint8_t>(0xF), packed >> 4);
  if (type == GGMLType::Q4_K) return low;
  // One shift and one mask move bits 2k..2k+1 to bits 4-5 when k is a constant.
  Expr high = bytes(block * blockBytes + 128 + codeByte % 64, row);
  Expr k = 2 * (codeByte / 64) + nibble;
  Expr placed = select(k == 0, high << 4, k == 1, high << 2, k == 2, high, high >> 2);
  return low | (placed & cast<uint8_t>(0x30));
}

/// The code of lane `lane`, `quad` in [0, 4), at step `step` (see above).
inline Halide::Expr kQuantLaneCode(GGMLType type, const Halide::Func &bytes, const Halide::Expr &lane,
                                   const Halide::Expr &quad, const Halide::Expr &step, const Halide::Expr &block,
                                   const Halide::Expr &row) {
  return kQuantCode(type, bytes, 64 * (step / 2) + 4 * lane + quad, step % 2, block, row);
}

/// The element of a kernel-order Q4_K block held by nibble `nibble` of code byte `codeByte`.
inline Halide::Expr q4kCodeElement(const Halide::Expr &codeByte, const Halide::Expr &nibble) {
  Halide::Expr l = codeByte % 64 / 4;
  return 32 * (l % 8) + 16 * (l / 8) + 8 * (codeByte / 64) + 4 * nibble + codeByte % 4;
}

inline Halide::Expr kQuantLaneElement(GGMLType type, const Halide::Expr &lane, const Halide::Expr &step,
                                      const Halide::Expr &quad) {
  if (type == GGMLType::Q6_K) return 16 * lane + 4 * step + quad;
  return q4kCodeElement(64 * (step / 2) + 4 * lane + quad, step % 2);
}

// A block-quantized element is scale(group) * quant - offset(group), where a group is 16
// consecutive elements sharing one scale (Q8_0's two halves share d). Keeping the three parts
// apart lets the products compute the per-group scales once per block and row, as one vector,
// instead of re-deriving them from the packed bytes for every vector of quants.

/// Groups of 16 elements per block.
inline int scaleGroups(GGMLType type) { return traitsOf(type).blockElements / 16; }

/// True when the format subtracts a per-group offset (Q4_K's dmin * m).
inline bool hasGroupOffset(GGMLType type) { return type == GGMLType::Q4_K; }

/// The f32 multiplier of group `group` (elements 16*group .. 16*group+15) of block `block`.
inline Halide::Expr groupScale(GGMLType type, const Halide::Func &bytes, const Halide::Expr &group,
                               const Halide::Expr &block, const Halide::Expr &row) {
  using namespace Halide;
  using detail::halfAt;
  switch (type) {
  case GGMLType::Q8_0: return halfAt(bytes, block * 34, row);
  case GGMLType::Q4_K: { // 6-bit scale of sub-block j = group/2, kernel order
    Expr j = group / 2;
    return halfAt(bytes, block * 144, row) * cast<float>(q4kScale(bytes, j, block, row));
  }
  case GGMLType::Q6_K: // int8 sc[group]
    return halfAt(bytes, block * 210 + 208, row) * cast<float>(q6kScaleCode(bytes, group, block, row));
  default: return Expr();
  }
}

/// The f32 offset subtracted from group `group` (Q4_K: dmin * m[j]); 0 for the other formats.
inline Halide::Expr groupOffset(GGMLType type, const Halide::Func &bytes, const Halide::Expr &group,
                                const Halide::Expr &block, const Halide::Expr &row) {
  using namespace Halide;
  if (type != GGMLType::Q4_K) return 0.0f;
  Expr j = group / 2;
  return detail::halfAt(bytes, block * 144 + 2, row) * cast<float>(q4kMin(bytes, j, block, row));
}

/// The quant of element 32*subBlock + lane of block `block` (lane in [0, 32)), as f32.
/// Products vectorize over `lane`, so every byte load is contiguous.
inline Halide::Expr blockQuant(GGMLType type, const Halide::Func &bytes, const Halide::Expr &lane,
                               const Halide::Expr &subBlock, const Halide::Expr &block, const Halide::Expr &row) {
  using namespace Halide;
  switch (type) {
  case GGMLType::Q8_0: // half d; int8 q[32]
    return cast<float>(reinterpret(Int(8), bytes(block * 34 + 2 + lane, row)));
  case GGMLType::Q4_K: { // kernel order (see q4kScale)
    Expr codeByte = 64 * (lane / 8 % 2) + 4 * (subBlock + 8 * (lane / 16)) + lane % 4;
    return cast<float>(kQuantCode(GGMLType::Q4_K, bytes, codeByte, lane / 4 % 2, block, row));
  }
  case GGMLType::Q6_K: { // kernel order: element 16l + 4s + q is lane l, step s, quad q
    Expr position = lane % 16;
    Expr code = kQuantLaneCode(GGMLType::Q6_K, bytes, 2 * subBlock + lane / 16, position % 4, position / 4, block, row);
    return cast<float>(cast<int>(code) - 32);
  }
  default: return Expr();
  }
}

// ---- Integer dot products on quantized activations (the `quantized_dot` path) ----
//
// The activations are quantized as ggml does before its vec_dot: Q8_0 (32 per block, fp16 scale)
// for Q8_0 weights, Q8_K (256 per block, f32 scale) for the K-quants. The products then take
// integer dot products of unsigned weight codes with the signed activation quants (VNNI
// vpdpbusd: u8 x s8, four products per i32 lane): per 32-element Q8_0 block, per 64-element
// step of a K-quant block (see kQuantLaneCode).

/// The block-quantized integer matmul (Q8_0, Q4_K, Q6_K) holds one weight row per i32 lane of a 512-bit
/// vpdpbusd: its register tile counts `tile_rows` in groups of this many rows.
constexpr int kQuantRowLanes = 16;

/// Rows of W per unit of matmul's `tile_rows` for `type` weights.
inline int matmulRowsPerTileRow(GGMLType type, bool quantizedDot) {
  return quantizedDot && traitsOf(type).quantized() ? kQuantRowLanes : 1;
}

/// Elements per block of quantized activations that pair with `type` weights (32 or 256).
inline int activationBlock(GGMLType type) { return type == GGMLType::Q8_0 ? 32 : 256; }

/// Q8_0's unsigned 8-bit code of element `lane` of block `block`: the int8 quant + 128.
inline Halide::Expr q8_0Code(const Halide::Func &bytes, const Halide::Expr &lane, const Halide::Expr &block,
                             const Halide::Expr &row) {
  using namespace Halide;
  return bytes(block * 34 + 2 + lane, row) ^ cast<uint8_t>(0x80);
}

/// fp16 block scales per row: Q4_K has two per block (d at i = 2b, dmin at 2b+1), the others one
/// (d of block i). Returns the count per row and the byte offset of scale i.
inline int halfScalesPerBlock(GGMLType type) { return type == GGMLType::Q4_K ? 2 : 1; }
inline Halide::Expr halfScaleOffset(GGMLType type, const Halide::Expr &i) {
  switch (type) {
  case GGMLType::Q4_K: return 144 * (i / 2) + 2 * (i % 2);
  case GGMLType::Q6_K: return 210 * i + 208;
  default: return 34 * i;
  }
}

/// What the unsigned code adds to the quant: 128 (Q8_0), 32 (Q6_K) or 0 (Q4_K, whose nibbles are
/// the quants).
inline int codeBias(GGMLType type) {
  switch (type) {
  case GGMLType::Q8_0: return 128;
  case GGMLType::Q6_K: return 32;
  default: return 0;
  }
}

/// One decoded element of a block-quantized row: element 32*subBlock + lane of block `block`.
inline Halide::Expr decodeBlockElement(GGMLType type, const Halide::Func &bytes, const Halide::Expr &lane,
                                       const Halide::Expr &subBlock, const Halide::Expr &block,
                                       const Halide::Expr &row) {
  Halide::Expr group = 2 * subBlock + lane / 16;
  Halide::Expr value = groupScale(type, bytes, group, block, row) * blockQuant(type, bytes, lane, subBlock, block, row);
  if (hasGroupOffset(type)) value -= groupOffset(type, bytes, group, block, row);
  return value;
}

} // namespace granite::kernels
