#include "Frontend/Dequantize.h"

#include <cassert>
#include <cstring>

namespace granite {
namespace {

uint16_t loadU16(const uint8_t *p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
float loadHalf(const uint8_t *p) { return halfToFloat(loadU16(p)); }

void dequantizeQ8_0(const uint8_t *block, float *y) { // half d; int8 q[32]
  const float d = loadHalf(block);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<int8_t>(block[2 + i]);
}

void dequantizeQ4_0(const uint8_t *block, float *y) { // half d; u8 qs[16]: low nibbles first half, high second
  const float d = loadHalf(block);
  const uint8_t *qs = block + 2;
  for (int i = 0; i < 16; ++i) {
    y[i] = d * ((qs[i] & 0xF) - 8);
    y[i + 16] = d * ((qs[i] >> 4) - 8);
  }
}

/// The 6-bit scale and min of sub-block j, packed in 12 bytes (K-quants with 8 sub-blocks).
void scaleMinK4(int j, const uint8_t *s, int &scale, int &min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void dequantizeQ4_K(const uint8_t *block, float *y) { // half d; half dmin; u8 scales[12]; u8 qs[128]
  const float d = loadHalf(block), dmin = loadHalf(block + 2);
  const uint8_t *scales = block + 4, *qs = block + 16;
  for (int g = 0; g < 4; ++g) {
    int sc0, m0, sc1, m1;
    scaleMinK4(2 * g, scales, sc0, m0);
    scaleMinK4(2 * g + 1, scales, sc1, m1);
    for (int l = 0; l < 32; ++l) {
      y[64 * g + l] = d * sc0 * (qs[32 * g + l] & 0xF) - dmin * m0;
      y[64 * g + 32 + l] = d * sc1 * (qs[32 * g + l] >> 4) - dmin * m1;
    }
  }
}

void dequantizeQ5_K(const uint8_t *block, float *y) { // half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
  const float d = loadHalf(block), dmin = loadHalf(block + 2);
  const uint8_t *scales = block + 4, *qh = block + 16, *qs = block + 48;
  for (int g = 0; g < 4; ++g) {
    int sc0, m0, sc1, m1;
    scaleMinK4(2 * g, scales, sc0, m0);
    scaleMinK4(2 * g + 1, scales, sc1, m1);
    const uint8_t lowBit = 1 << (2 * g), highBit = 2 << (2 * g);
    for (int l = 0; l < 32; ++l) {
      int lo = (qs[32 * g + l] & 0xF) + ((qh[l] & lowBit) ? 16 : 0);
      int hi = (qs[32 * g + l] >> 4) + ((qh[l] & highBit) ? 16 : 0);
      y[64 * g + l] = d * sc0 * lo - dmin * m0;
      y[64 * g + 32 + l] = d * sc1 * hi - dmin * m1;
    }
  }
}

void dequantizeQ6_K(const uint8_t *block, float *y) { // u8 ql[128]; u8 qh[64]; int8 sc[16]; half d
  const float d = loadHalf(block + 208);
  for (int n = 0; n < 2; ++n) {
    const uint8_t *ql = block + 64 * n, *qh = block + 128 + 32 * n;
    const int8_t *sc = reinterpret_cast<const int8_t *>(block + 192) + 8 * n;
    float *out = y + 128 * n;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * sc[is] * q1;
      out[l + 32] = d * sc[is + 2] * q2;
      out[l + 64] = d * sc[is + 4] * q3;
      out[l + 96] = d * sc[is + 6] * q4;
    }
  }
}

} // namespace

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: normalise
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | ((mantissa & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16ToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void dequantizeRow(GGMLType type, const void *src, float *dst, int64_t n) {
  const auto &traits = traitsOf(type);
  assert(traits.dequantizable && n % traits.blockElements == 0);
  const auto *bytes = static_cast<const uint8_t *>(src);
  const int64_t blocks = n / traits.blockElements;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *block = bytes + b * traits.blockBytes;
    float *y = dst + b * traits.blockElements;
    switch (type) {
    case GGMLType::F32: std::memcpy(y, block, 4); break;
    case GGMLType::F16: *y = loadHalf(block); break;
    case GGMLType::BF16: *y = bf16ToFloat(loadU16(block)); break;
    case GGMLType::Q8_0: dequantizeQ8_0(block, y); break;
    case GGMLType::Q4_0: dequantizeQ4_0(block, y); break;
    case GGMLType::Q4_K: dequantizeQ4_K(block, y); break;
    case GGMLType::Q5_K: dequantizeQ5_K(block, y); break;
    case GGMLType::Q6_K: dequantizeQ6_K(block, y); break;
    default: assert(false && "no reference dequantizer for this type");
    }
  }
}

} // namespace granite
