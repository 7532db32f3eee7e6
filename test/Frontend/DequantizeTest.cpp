#include "Frontend/Dequantize.h"
#include "Frontend/GGUF.h"
#include "GoldenModels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace granite;
using namespace granite::testing;

namespace {

std::vector<float> dequantize(const gguf::TensorInfo &t) {
  std::vector<float> out(t.elementCount);
  dequantizeRow(t.type, t.data, out.data(), static_cast<int64_t>(t.elementCount));
  return out;
}

std::vector<float> f32Of(const gguf::File &f, const std::string &name) {
  const gguf::TensorInfo *t = f.findTensor(name);
  EXPECT_NE(t, nullptr) << name;
  EXPECT_EQ(t->type, GGMLType::F32);
  std::vector<float> out(t->elementCount);
  std::memcpy(out.data(), t->data, t->byteSize);
  return out;
}

/// For every tensor of `model`, checks its dequantized values against dense-f32 with `bound(type, block of the
/// original values)` per element; F32 tensors must be bit-identical. Counts the tensors of each type in `seen`.
template <typename Bound> void compareWithF32(const std::string &model, Bound bound, std::map<GGMLType, int> &seen) {
  gguf::File original = gguf::File::open(goldenModel("dense-f32"));
  gguf::File quantized = gguf::File::open(goldenModel(model));
  for (const auto &t : quantized.tensors()) {
    ++seen[t.type];
    const std::vector<float> want = f32Of(original, t.name), got = dequantize(t);
    ASSERT_EQ(want.size(), got.size()) << t.name;
    // Error bounds hold per scale group: K-quant sub-blocks (32 for Q4_K, 16 for Q6_K), else the whole block.
    const uint32_t group = t.type == GGMLType::Q4_K   ? 32
                           : t.type == GGMLType::Q6_K ? 16
                                                      : traitsOf(t.type).blockElements;
    for (size_t start = 0; start < want.size(); start += group) {
      const float *w = &want[start];
      float amax = 0, lo = w[0], hi = w[0];
      for (uint32_t i = 0; i < group; ++i) {
        amax = std::max(amax, std::fabs(w[i]));
        lo = std::min(lo, w[i]);
        hi = std::max(hi, w[i]);
      }
      for (uint32_t i = 0; i < group; ++i) {
        const float limit = bound(t.type, w[i], amax, hi - lo);
        ASSERT_LE(std::fabs(got[start + i] - w[i]), limit)
            << t.name << " element " << start + i << ": " << got[start + i] << " vs " << w[i];
      }
    }
  }
}

TEST(Dequantize, BF16WithinHalfAnUlpOfBF16) {
  // Round-to-nearest to 8 significant bits: at most half an ulp, 2^-8 of the value at the bottom of its binade.
  std::map<GGMLType, int> seen;
  compareWithF32(
      "dense-bf16",
      [](GGMLType type, float x, float, float) { return type == GGMLType::F32 ? 0.0f : std::fabs(x) * 0x1p-8f; }, seen);
  EXPECT_GT(seen[GGMLType::BF16], 0);
}

TEST(Dequantize, Q8_0WithinHalfAStep) {
  // d = amax/127 stored as f16 (relative error 2^-11), q = round(x/d): error <= d/2 + 127*d*2^-11 < 0.57 d.
  std::map<GGMLType, int> seen;
  compareWithF32(
      "dense-q8_0",
      [](GGMLType type, float, float amax, float) { return type == GGMLType::F32 ? 0.0f : 0.57f * amax / 127.0f; },
      seen);
  EXPECT_GT(seen[GGMLType::Q8_0], 0);
}

TEST(Dequantize, Q4_KAndQ6_KWithinTheirStep) {
  // Q4_K: 16 levels across each 32-element sub-block's range, with 6-bit quantized scale and min; the quantizer's
  // scale search may clip the extremes, so allow one full step (range/15) plus the 6-bit scale error.
  // Q6_K: 64 levels with a signed 8-bit scale per 16 elements: within one step of 2*amax/63.
  std::map<GGMLType, int> seen;
  compareWithF32(
      "dense-q4_k_m",
      [](GGMLType type, float, float amax, float range) {
        switch (type) {
        case GGMLType::F32: return 0.0f;
        case GGMLType::Q4_K: return range / 15.0f * 1.1f + 1e-6f;
        case GGMLType::Q6_K: return 2.0f * amax / 63.0f + 1e-6f;
        default: ADD_FAILURE() << "unexpected type " << ggmlTypeName(type); return 0.0f;
        }
      },
      seen);
  EXPECT_GT(seen[GGMLType::Q4_K], 0);
  EXPECT_GT(seen[GGMLType::Q6_K], 0); // token_embd and some attn_v/ffn_down
}

// --- hand-built blocks with known values -------------------------------------------------------------------------

constexpr uint16_t kHalfOne = 0x3C00, kHalfHalf = 0x3800, kHalfTwo = 0x4000, kHalfQuarter = 0x3400;

void putU16(uint8_t *p, uint16_t v) {
  p[0] = v & 0xFF;
  p[1] = v >> 8;
}

/// Packs eight 6-bit scales and mins the way K-quants store them (inverse of the spec's unpacking).
void packScalesMins(const int sc[8], const int m[8], uint8_t s[12]) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

TEST(DequantizeBlocks, Q8_0) {
  uint8_t block[34];
  putU16(block, kHalfHalf);
  for (int i = 0; i < 32; ++i) block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i * 8 - 128));
  float y[32];
  dequantizeRow(GGMLType::Q8_0, block, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.5f * (i * 8 - 128));
}

TEST(DequantizeBlocks, Q4_0) {
  uint8_t block[18];
  putU16(block, kHalfTwo);
  for (int i = 0; i < 16; ++i) block[2 + i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  float y[32];
  dequantizeRow(GGMLType::Q4_0, block, y, 32);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(y[i], 2.0f * (i - 8));
    EXPECT_EQ(y[i + 16], 2.0f * (15 - i - 8));
  }
}

TEST(DequantizeBlocks, Q4_K) {
  uint8_t block[144] = {};
  putU16(block, kHalfHalf);        // d
  putU16(block + 2, kHalfQuarter); // dmin
  const int sc[8] = {1, 2, 3, 63, 17, 33, 48, 62}, m[8] = {0, 5, 63, 7, 16, 31, 47, 60};
  packScalesMins(sc, m, block + 4);
  for (int i = 0; i < 128; ++i) block[16 + i] = static_cast<uint8_t>((i % 16) | (((i * 7) % 16) << 4));
  float y[256];
  dequantizeRow(GGMLType::Q4_K, block, y, 256);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      const int q = 32 * g + l;
      EXPECT_EQ(y[64 * g + l], 0.5f * sc[2 * g] * (q % 16) - 0.25f * m[2 * g]) << g << "," << l;
      EXPECT_EQ(y[64 * g + 32 + l], 0.5f * sc[2 * g + 1] * ((q * 7) % 16) - 0.25f * m[2 * g + 1]) << g << "," << l;
    }
}

TEST(DequantizeBlocks, Q5_K) {
  uint8_t block[176] = {};
  putU16(block, kHalfOne);
  putU16(block + 2, kHalfHalf);
  const int sc[8] = {3, 1, 4, 1, 59, 26, 53, 58}, m[8] = {9, 7, 9, 3, 23, 8, 46, 26};
  packScalesMins(sc, m, block + 4);
  uint8_t *qh = block + 16, *qs = block + 48;
  for (int l = 0; l < 32; ++l) qh[l] = static_cast<uint8_t>(l * 37);
  for (int i = 0; i < 128; ++i) qs[i] = static_cast<uint8_t>(i * 11);
  float y[256];
  dequantizeRow(GGMLType::Q5_K, block, y, 256);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      const int lo = (qs[32 * g + l] & 15) + 16 * ((qh[l] >> (2 * g)) & 1);
      const int hi = (qs[32 * g + l] >> 4) + 16 * ((qh[l] >> (2 * g + 1)) & 1);
      EXPECT_EQ(y[64 * g + l], 1.0f * sc[2 * g] * lo - 0.5f * m[2 * g]);
      EXPECT_EQ(y[64 * g + 32 + l], 1.0f * sc[2 * g + 1] * hi - 0.5f * m[2 * g + 1]);
    }
}

TEST(DequantizeBlocks, Q6_K) {
  // Builds the block from chosen 6-bit values q[i] in 0..63 and scales, then expects d*scale*(q-32).
  int q[256];
  for (int i = 0; i < 256; ++i) q[i] = (i * 29 + 3) % 64;
  const int8_t scales[16] = {1, -2, 3, -4, 5, -6, 7, -8, 127, -128, 64, -64, 10, 20, -30, 40};
  uint8_t block[210] = {};
  uint8_t *ql = block, *qh = block + 128;
  std::memcpy(block + 192, scales, 16);
  putU16(block + 208, kHalfQuarter);
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const int *v = q + 128 * n;
      ql[64 * n + l] = static_cast<uint8_t>((v[l] & 15) | ((v[l + 64] & 15) << 4));
      ql[64 * n + l + 32] = static_cast<uint8_t>((v[l + 32] & 15) | ((v[l + 96] & 15) << 4));
      qh[32 * n + l] = static_cast<uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) |
                                            ((v[l + 96] >> 4) << 6));
    }
  float y[256];
  dequantizeRow(GGMLType::Q6_K, block, y, 256);
  for (int i = 0; i < 256; ++i) {
    // Element i lies in half n = i/128; within it, quarter r = (i%128)/32 and l = i%32 use scale 8n + l/16 + 2r.
    const int n = i / 128, r = (i % 128) / 32, l = i % 32;
    EXPECT_EQ(y[i], 0.25f * scales[8 * n + l / 16 + 2 * r] * (q[i] - 32)) << i;
  }
}

TEST(DequantizeBlocks, BF16AndF16) {
  const uint16_t bf16[3] = {0x3F80, 0xC040, 0x7F80}; // 1, -3, +inf
  float y[3];
  dequantizeRow(GGMLType::BF16, bf16, y, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_TRUE(std::isinf(y[2]));
  const uint16_t f16[2] = {kHalfTwo, 0xBC00};
  dequantizeRow(GGMLType::F16, f16, y, 2);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[1], -1.0f);
}

TEST(DequantizeBlocks, HalfToFloatMatchesTheCompilerOnAllBitPatterns) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    _Float16 h;
    const uint16_t b = static_cast<uint16_t>(bits);
    std::memcpy(&h, &b, 2);
    const float want = static_cast<float>(h), got = halfToFloat(b);
    if (std::isnan(want))
      EXPECT_TRUE(std::isnan(got)) << bits;
    else
      EXPECT_EQ(std::memcmp(&want, &got, 4), 0) << "bits 0x" << std::hex << bits;
  }
}

} // namespace
