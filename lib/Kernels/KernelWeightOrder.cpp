#include "Kernels/KernelWeightOrder.h"

#include <array>
#include <cstring>

namespace granite::kernels {

void q4kToKernelOrder(uint8_t *data, size_t blocks) {
  constexpr size_t kBlockBytes = 144;
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t *block = data + b * kBlockBytes;
    // GGUF: 8 six-bit scales and mins packed in 12 bytes, then qs[32 * (j / 2) + i] holding
    // element i of sub-block j in nibble j % 2 (spec §3.4).
    const uint8_t *packed = block + 4, *qs = block + 16;
    std::array<uint8_t, 8> scale{}, min{};
    for (int j = 0; j < 8; ++j) {
      if (j < 4) {
        scale[j] = packed[j] & 63;
        min[j] = packed[j + 4] & 63;
      } else {
        scale[j] = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
        min[j] = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
      }
    }
    auto code = [&](int j, int i) { return (qs[32 * (j / 2) + i] >> (4 * (j % 2))) & 0xF; };
    std::array<uint8_t, 140> reordered{};
    uint32_t minLowBits = 0;
    for (int j = 0; j < 8; ++j) {
      reordered[j] = uint8_t(scale[j] | ((min[j] >> 4) << 6));
      minLowBits |= uint32_t(min[j] & 0xF) << (4 * j);
    }
    for (int k = 0; k < 4; ++k) reordered[8 + k] = uint8_t(minLowBits >> (8 * k));
    for (int u = 0; u < 2; ++u)
      for (int l = 0; l < 16; ++l)
        for (int q = 0; q < 4; ++q) {
          const int j = l % 8, i = 16 * (l / 8) + 8 * u + q;
          reordered[12 + 64 * u + 4 * l + q] = uint8_t(code(j, i) | (code(j, i + 4) << 4));
        }
    std::memcpy(block + 4, reordered.data(), reordered.size());
  }
}

void q6kToKernelOrder(uint8_t *data, size_t blocks) {
  constexpr size_t kBlockBytes = 210;
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t *block = data + b * kBlockBytes;
    // GGUF: element 32 * (4 * half + quarter) + i has its low 4 bits in nibble quarter / 2 of
    // ql[64 * half + 32 * (quarter % 2) + i] and its high 2 bits at bit 2 * quarter of
    // qh[32 * half + i] (spec §3.4).
    const uint8_t *ql = block, *qh = block + 128;
    auto code = [&](int e) {
      const int half = e / 128, quarter = e % 128 / 32, i = e % 32;
      const int low = (ql[64 * half + 32 * (quarter % 2) + i] >> (4 * (quarter / 2))) & 0xF;
      const int high = (qh[32 * half + i] >> (2 * quarter)) & 3;
      return low | (high << 4);
    };
    std::array<uint8_t, 192> reordered{};
    for (int l = 0; l < 16; ++l)
      for (int q = 0; q < 4; ++q) {
        for (int u = 0; u < 2; ++u) {
          const int e = 16 * l + 8 * u + q;
          reordered[64 * u + 4 * l + q] = uint8_t((code(e) & 0xF) | ((code(e + 4) & 0xF) << 4));
        }
        int highBits = 0;
        for (int k = 0; k < 4; ++k) highBits |= (code(16 * l + 4 * k + q) >> 4) << (2 * k);
        reordered[128 + 4 * l + q] = uint8_t(highBits);
      }
    std::memcpy(block, reordered.data(), reordered.size());
  }
}

namespace {
/// The rows in kernel order are the ones toKernelOrder rearranges.
constexpr bool hasKernelOrder(GGMLType type) { return type == GGMLType::Q4_K || type == GGMLType::Q6_K; }
constexpr bool tableOrdersAreKnown() {
  for (const GGMLTypeTraits &traits : kGGMLTypes)
    if ((traits.order == BlockOrder::Kernel) != hasKernelOrder(traits.type)) return false;
  return true;
}
static_assert(tableOrdersAreKnown(), "a row of lib/Format/GGMLType.h in kernel order needs its rewrite here");
} // namespace

void toKernelOrder(GGMLType type, uint8_t *data, size_t bytes) {
  const size_t blocks = bytes / traitsOf(type).blockBytes;
  if (type == GGMLType::Q4_K)
    q4kToKernelOrder(data, blocks);
  else if (type == GGMLType::Q6_K)
    q6kToKernelOrder(data, blocks);
}

} // namespace granite::kernels
