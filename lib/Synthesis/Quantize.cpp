#include "Synthesis/Quantize.h"

#include "Frontend/Dequantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace granite {
namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
void storeU16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

/// Stores `scale` as a half and returns the value the dequantizer will read back, so the codes are chosen
/// against the rounded scale.
float storeHalf(uint8_t *p, float scale) {
  const uint16_t h = floatToHalf(scale);
  storeU16(p, h);
  return halfToFloat(h);
}

/// Like storeHalf, but never below `scale` (>= 0): a super-block scale rounded down would push the largest codes
/// past their range, which matters for tiny values where the half is subnormal and coarse.
float storeHalfAtLeast(uint8_t *p, float scale) {
  uint16_t h = floatToHalf(scale);
  if (halfToFloat(h) < scale) ++h; // the next larger half (scale is non-negative and finite)
  storeU16(p, h);
  return halfToFloat(h);
}

int roundClamp(float v, int lo, int hi) { return std::clamp(static_cast<int>(std::lround(v)), lo, hi); }

void quantizeQ8_0(const float *x, uint8_t *block) { // half d; int8 q[32]
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = storeHalf(block, amax / 127.0f);
  const float inverse = d > 0 ? 1.0f / d : 0.0f;
  for (int i = 0; i < 32; ++i)
    block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(roundClamp(x[i] * inverse, -127, 127)));
}

/// Packs the eight 6-bit scales and mins the way Dequantize's scaleMinK4 unpacks them.
void packScaleMinK4(const int *scale, const int *min, uint8_t *s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(scale[j]);
    s[j + 4] = static_cast<uint8_t>(min[j]);
  }
  for (int j = 4; j < 8; ++j) {
    s[j + 4] = static_cast<uint8_t>((scale[j] & 0xF) | ((min[j] & 0xF) << 4));
    s[j - 4] |= static_cast<uint8_t>((scale[j] >> 4) << 6);
    s[j] |= static_cast<uint8_t>((min[j] >> 4) << 6);
  }
}

void quantizeQ4_K(const float *x, uint8_t *block) { // half d; half dmin; u8 scales[12]; u8 qs[128]
  // Sub-block j covers [lo_j, hi_j] with lo_j <= 0: y = d*sc*q - dmin*m. Mins are rounded up and scales are
  // chosen after them, so every value stays inside the representable range.
  float low[8], high[8];
  float maxMin = 0;
  for (int j = 0; j < 8; ++j) {
    low[j] = 0;
    high[j] = 0;
    for (int i = 0; i < 32; ++i) {
      low[j] = std::min(low[j], x[32 * j + i]);
      high[j] = std::max(high[j], x[32 * j + i]);
    }
    maxMin = std::max(maxMin, -low[j]);
  }
  const float dmin = storeHalfAtLeast(block + 2, maxMin / 63.0f);
  int mins[8], scales[8];
  float needed[8], maxNeeded = 0;
  for (int j = 0; j < 8; ++j) {
    mins[j] = dmin > 0 ? std::clamp(static_cast<int>(std::ceil(-low[j] / dmin)), 0, 63) : 0;
    needed[j] = (high[j] + dmin * mins[j]) / 15.0f;
    maxNeeded = std::max(maxNeeded, needed[j]);
  }
  const float d = storeHalfAtLeast(block, maxNeeded / 63.0f);
  for (int j = 0; j < 8; ++j) scales[j] = d > 0 ? std::clamp(static_cast<int>(std::ceil(needed[j] / d)), 0, 63) : 0;
  std::memset(block + 4, 0, 12);
  packScaleMinK4(scales, mins, block + 4);
  uint8_t codes[256];
  for (int j = 0; j < 8; ++j) {
    const float step = d * scales[j], offset = dmin * mins[j];
    for (int i = 0; i < 32; ++i)
      codes[32 * j + i] = static_cast<uint8_t>(step > 0 ? roundClamp((x[32 * j + i] + offset) / step, 0, 15) : 0);
  }
  uint8_t *qs = block + 16;
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l)
      qs[32 * g + l] = static_cast<uint8_t>(codes[64 * g + l] | (codes[64 * g + 32 + l] << 4));
}

void quantizeQ6_K(const float *x, uint8_t *block) { // u8 ql[128]; u8 qh[64]; int8 sc[16]; half d
  // Sixteen sub-blocks of 16 consecutive elements, codes in -32..31 around a signed 8-bit scale; scales are rounded
  // up so the largest magnitude of a sub-block maps to at most 31.
  float needed[16], maxNeeded = 0;
  for (int j = 0; j < 16; ++j) {
    float amax = 0;
    for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[16 * j + i]));
    needed[j] = amax / 31.0f;
    maxNeeded = std::max(maxNeeded, needed[j]);
  }
  const float d = storeHalfAtLeast(block + 208, maxNeeded / 127.0f);
  int8_t *sc = reinterpret_cast<int8_t *>(block + 192);
  int codes[256];
  for (int j = 0; j < 16; ++j) {
    const int scale = d > 0 ? std::clamp(static_cast<int>(std::ceil(needed[j] / d)), 0, 127) : 0;
    sc[j] = static_cast<int8_t>(scale);
    const float step = d * scale;
    for (int i = 0; i < 16; ++i) codes[16 * j + i] = (step > 0 ? roundClamp(x[16 * j + i] / step, -32, 31) : 0) + 32;
  }
  std::memset(block, 0, 192);
  for (int n = 0; n < 2; ++n) {
    uint8_t *ql = block + 64 * n, *qh = block + 128 + 32 * n;
    const int *q = codes + 128 * n;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                   ((q[l + 96] >> 4) << 6));
    }
  }
}

} // namespace

uint16_t floatToHalf(float value) {
  // Branch-light conversion (after Maratyszcza's FP16): the float adds perform the round-to-nearest-even.
  const float scaleToInfinity = 0x1.0p+112f, scaleToZero = 0x1.0p-110f;
  float base = (std::fabs(value) * scaleToInfinity) * scaleToZero;
  const uint32_t w = bitsOf(value), doubled = w + w, sign = w & 0x80000000u;
  uint32_t bias = doubled & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = floatOf((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = bitsOf(base);
  const uint32_t nonSign = ((bits >> 13) & 0x00007C00u) + (bits & 0x00000FFFu);
  return static_cast<uint16_t>((sign >> 16) | (doubled > 0xFF000000u ? 0x7E00u : nonSign));
}

uint16_t floatToBf16(float value) {
  const uint32_t bits = bitsOf(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40); // keep NaN a (quiet) NaN
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
}

uint64_t rowBytes(GGMLType type, int64_t n) {
  const GGMLTypeTraits &traits = traitsOf(type);
  return static_cast<uint64_t>(n) / traits.blockElements * traits.blockBytes;
}

void quantizeRow(GGMLType type, const float *src, void *dst, int64_t n) {
  const int64_t block = traitsOf(type).blockElements;
  if (n % block != 0)
    throw std::invalid_argument("quantizeRow: " + std::to_string(n) + " elements is not a multiple of the " +
                                std::string(ggmlTypeName(type)) + " block");
  auto *out = static_cast<uint8_t *>(dst);
  switch (type) {
  case GGMLType::F32: std::memcpy(out, src, static_cast<size_t>(n) * 4); return;
  case GGMLType::BF16:
    for (int64_t i = 0; i < n; ++i) storeU16(out + 2 * i, floatToBf16(src[i]));
    return;
  case GGMLType::Q8_0:
    for (int64_t b = 0; b < n / 32; ++b) quantizeQ8_0(src + 32 * b, out + 34 * b);
    return;
  case GGMLType::Q4_K:
    for (int64_t b = 0; b < n / 256; ++b) quantizeQ4_K(src + 256 * b, out + 144 * b);
    return;
  case GGMLType::Q6_K:
    for (int64_t b = 0; b < n / 256; ++b) quantizeQ6_K(src + 256 * b, out + 210 * b);
    return;
  default: throw std::invalid_argument("quantizeRow: no quantizer for " + std::string(ggmlTypeName(type)));
  }
}

} // namespace granite
