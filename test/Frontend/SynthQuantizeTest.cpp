// The reference quantizers: valid blocks that dequantize (Dequantize.h) within each format's error bound.
#include "Frontend/Dequantize.h"
#include "Synthesis/Quantize.h"

#include <cmath>
#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace granite;

namespace {

std::vector<float> gaussianRow(int64_t n, float scale, unsigned seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> row(n);
  for (float &x : row) x = normal(engine);
  return row;
}

std::vector<float> roundTrip(GGMLType type, const std::vector<float> &row) {
  std::vector<uint8_t> bytes(rowBytes(type, static_cast<int64_t>(row.size())));
  quantizeRow(type, row.data(), bytes.data(), static_cast<int64_t>(row.size()));
  std::vector<float> back(row.size());
  dequantizeRow(type, bytes.data(), back.data(), static_cast<int64_t>(row.size()));
  return back;
}

/// Checks every element against `stepOf(block)` / 2, where a block is `blockSize` consecutive inputs, plus a bound
/// on the RMS error relative to the input's RMS.
template <typename Step> void expectWithinBounds(GGMLType type, int blockSize, Step stepOf, double maxRelativeRms) {
  for (float scale : {1.0f, 1e-3f, 50.0f}) {
    const std::vector<float> row = gaussianRow(4096, scale, 11);
    const std::vector<float> back = roundTrip(type, row);
    double errorSquares = 0, squares = 0;
    for (size_t b = 0; b < row.size(); b += blockSize) {
      const std::vector<float> block(row.begin() + b, row.begin() + b + blockSize);
      const double bound = 0.5 * stepOf(block) * 1.001 + 1e-7 * scale;
      for (int i = 0; i < blockSize; ++i) {
        ASSERT_TRUE(std::isfinite(back[b + i]));
        ASSERT_LE(std::fabs(back[b + i] - row[b + i]), bound)
            << ggmlTypeName(type) << " element " << b + i << " scale " << scale;
        errorSquares += double(back[b + i] - row[b + i]) * (back[b + i] - row[b + i]);
        squares += double(row[b + i]) * row[b + i];
      }
    }
    EXPECT_LT(std::sqrt(errorSquares / squares), maxRelativeRms) << ggmlTypeName(type) << " scale " << scale;
  }
}

float maxAbs(const std::vector<float> &v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}
float range(const std::vector<float> &v) {
  float low = 0, high = 0;
  for (float x : v) {
    low = std::min(low, x);
    high = std::max(high, x);
  }
  return high - low;
}

TEST(SynthQuantize, HalfAndBf16RoundToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(1e6f), 0x7C00);
  EXPECT_EQ(floatToHalf(1.0f + 0x1.0p-11f), 0x3C00);           // halfway: to even
  EXPECT_EQ(floatToHalf(1.0f + 0x1.8p-10f), 0x3C02);           // halfway: to even
  EXPECT_EQ(halfToFloat(floatToHalf(0x1.0p-24f)), 0x1.0p-24f); // smallest subnormal
  EXPECT_EQ(floatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBf16(1.0f + 0x1.0p-8f), 0x3F80); // halfway: to even
  EXPECT_EQ(floatToBf16(1.0f + 0x1.8p-7f), 0x3F82); // halfway: to even
  EXPECT_EQ(floatToBf16(1.0f + 0x1.2p-8f), 0x3F81); // above halfway
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(std::nanf("")))));
}

TEST(SynthQuantize, Bf16RoundTripsWithinHalfAnUlp) {
  expectWithinBounds(GGMLType::BF16, 1, [](const std::vector<float> &v) { return maxAbs(v) * 0x1.0p-7f; }, 3e-3);
}

TEST(SynthQuantize, Q8_0RoundTripsWithinHalfAStep) {
  expectWithinBounds(GGMLType::Q8_0, 32, [](const std::vector<float> &v) { return maxAbs(v) / 127 * 1.002f; }, 0.01);
}

TEST(SynthQuantize, Q4_KRoundTripsWithinHalfAStep) {
  // Per sub-block of 32 the step is at most (its range + one rounded min) / 15 plus one 6-bit scale unit of the
  // whole block; a whole-block range / 15 * 2 bounds that.
  expectWithinBounds(GGMLType::Q4_K, 256, [](const std::vector<float> &v) { return 2 * range(v) / 15; }, 0.12);
}

TEST(SynthQuantize, Q6_KRoundTripsWithinHalfAStep) {
  // Per sub-block of 16 the step is amax/31 rounded up by at most one 8-bit scale unit (block amax / 31 / 127).
  expectWithinBounds(GGMLType::Q6_K, 256, [](const std::vector<float> &v) { return 2 * maxAbs(v) / 31; }, 0.04);
}

TEST(SynthQuantize, ZeroBlocksStayZero) {
  for (GGMLType type : {GGMLType::BF16, GGMLType::Q8_0, GGMLType::Q4_K, GGMLType::Q6_K})
    for (float x : roundTrip(type, std::vector<float>(512, 0.0f))) ASSERT_EQ(x, 0.0f) << ggmlTypeName(type);
}

TEST(SynthQuantize, RejectsPartialBlocks) {
  std::vector<float> row(100);
  std::vector<uint8_t> bytes(1024);
  EXPECT_THROW(quantizeRow(GGMLType::Q4_K, row.data(), bytes.data(), 100), std::invalid_argument);
  EXPECT_THROW(quantizeRow(GGMLType::Q4_0, row.data(), bytes.data(), 32), std::invalid_argument);
}

} // namespace
