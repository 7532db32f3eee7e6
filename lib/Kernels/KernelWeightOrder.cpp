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
    for (int k = 0; k < 4; ++k)
      reordered[8 + k] = uint8_t(minLowBits >> (8 * k));
    for (int u = 0; u < 2; ++u)
      for (int l = 0; l < 16; ++l)
        for (int q = 0; q < 4; ++q) {
          const int j = l % 8, i = 16 * (l / 8) + 8 * u + q;
          reordered[12 + 64 * u + 4 * l + q] = uint8_t(code(j, i) | (code(j, i + 4) << 4));
        }
    std::memcpy(block + 4, reordered.data(), reordered.size());
  }
}

} // namespace granite::kernels
