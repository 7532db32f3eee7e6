// matvec / matmul instances for every weight type on two x86 families against a plain loop over
// the reference-dequantized weights (Reference.cpp), accumulated in double.
#include "KernelTestUtil.h"
#include "Reference.h"

#include "avx2_expert_matvec_f32.h"
#include "avx2_expert_matvec_q4_k.h"
#include "avx2_matmul_bf16.h"
#include "avx2_matmul_f16.h"
#include "avx2_matmul_f32.h"
#include "avx2_matmul_q4_k.h"
#include "avx2_matmul_q6_k.h"
#include "avx2_matmul_q8_0.h"
#include "avx2_matvec_bf16.h"
#include "avx2_matvec_f16.h"
#include "avx2_matvec_f32.h"
#include "avx2_matvec_q4_k.h"
#include "avx2_matvec_q6_k.h"
#include "avx2_matvec_q8_0.h"
#include "bf16_expert_matvec_f32.h"
#include "bf16_expert_matvec_q4_k.h"
#include "bf16_matmul_bf16.h"
#include "bf16_matmul_bf16_dot.h"
#include "bf16_matmul_f16.h"
#include "bf16_matmul_f32.h"
#include "bf16_matmul_q4_k.h"
#include "bf16_matmul_q4_k_tile2x4.h"
#include "bf16_matmul_q6_k.h"
#include "bf16_matmul_q6_k_tile2x4.h"
#include "bf16_matmul_q8_0.h"
#include "bf16_matmul_q8_0_tile2x4.h"
#include "bf16_matvec_bf16.h"
#include "bf16_matvec_bf16_dot.h"
#include "bf16_matvec_f16.h"
#include "bf16_matvec_f32.h"
#include "bf16_matvec_q4_k.h"
#include "bf16_matvec_q4_k_tile2x4.h"
#include "bf16_matvec_q6_k.h"
#include "bf16_matvec_q6_k_tile2x4.h"
#include "bf16_matvec_q8_0.h"
#include "bf16_matvec_q8_0_tile2x4.h"

#include <algorithm>

namespace granite::test {
namespace {

using LinearFn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);

struct LinearCase {
  std::string family;
  WType type;
  int K;
  LinearFn matvec;
  LinearFn matmul;
};

constexpr int kRows = 37; // out_features of every test instance (test/Kernels/CMakeLists.txt)

std::ostream &operator<<(std::ostream &os, const LinearCase &c) { return os << c.family << "_" << infoOf(c.type).name; }

/// Wraps the weights as granitec stores them in the buffer type the instance expects (see
/// docs/kernels.md).
halide_buffer_t *weightBuffer(RandomWeights &w, Halide::Runtime::Buffer<void> &holder) {
  switch (w.type) {
  case WType::F32: holder = Halide::Runtime::Buffer<float>((float *)w.kernelBytes.data(), w.K, w.N); break;
  case WType::F16:
  case WType::BF16: holder = Halide::Runtime::Buffer<uint16_t>((uint16_t *)w.kernelBytes.data(), w.K, w.N); break;
  default: holder = Halide::Runtime::Buffer<uint8_t>(w.kernelBytes.data(), int(w.rowBytes), w.N);
  }
  return holder.raw_buffer();
}

/// Decode-op count per weight for the tolerance: the dequantization formula's roundings.
int decodeOps(WType type) { return type == WType::Q4_K ? 3 : 2; }

bool isBlockQuantized(WType type) { return infoOf(type).blockElements > 1; }

/// Whether the family's products quantize the activations (lib/Target's quantizedDot), as the
/// test instances are built (test/Kernels/CMakeLists.txt).
bool quantizedDot(const std::string &family, WType type) {
  return isBlockQuantized(type) && testFamily(family).defaults.quantizedDot;
}

/// With `quantized`, the kernel's activations are x quantized as llama.cpp does
/// (quantizeActivationsReference), and the reference multiplies those exactly.
///
/// Q4_K and Q6_K (kQuantDotReference): the kernel's integer sums per block are exact, and so is
/// their conversion to f32 (below 2^24), so it differs from the reference only in its f32 steps.
/// Per block it multiplies each of its 16 lanes' integer sums by d * d_x (2 roundings: the
/// product d * d_x, then the multiplication) and adds it to the lane's running sum; Q4_K also
/// subtracts m * (sum of the quants) times dmin * d_x. So each lane accumulates blocks (Q6_K) or
/// 2 * blocks (Q4_K) terms, and the 16 lanes are added as a tree (log2(16) roundings): with
/// 2 roundings per term, dotTolerance(16 * terms per lane, 16, 2) bounds the difference, relative
/// to the sum of the magnitudes of every element's terms (dequantizedMagnitudes: Q4_K's d*sc*q
/// and dmin*m apart, since the kernel adds them apart). A quant of x rounded the other way moves
/// the result by |w| * d_x, about |w|/127: some 30 times this bound at K = 512, so the test
/// checks the quantization itself too.
///
/// Q8_0 (against the dequantized weights): each 32-element block's integer dot is scaled by
/// d * d_x and accumulated into one of 8 sums (K/32 accumulations per sum, then log2(8) for
/// their sum); the reference weights carry up to 2 roundings of their own.
void expectProductMatches(const RandomWeights &w, const std::vector<float> &x, int tokens, const float *y,
                          bool quantized = false) {
  std::vector<float> magnitudes = quantized ? dequantizedMagnitudes(w) : std::vector<float>();
  const bool kQuant = quantized && w.type != WType::Q8_0;
  for (int t = 0; t < tokens; ++t) {
    std::vector<double> xq, kQuantProduct;
    if (quantized) {
      QuantizedActivations q = quantizeActivationsReference(w.type, x.data() + size_t(t) * w.K, w.K);
      xq = quantizedActivationsReference(w.type, x.data() + size_t(t) * w.K, w.K);
      if (kQuant) kQuantProduct = kQuantDotReference(w, q);
    }
    for (int n = 0; n < w.N; ++n) {
      double exact = 0, magnitude = 0;
      for (int k = 0; k < w.K; ++k) {
        size_t i = size_t(n) * w.K + k;
        double xv = quantized ? xq[k] : double(x[size_t(t) * w.K + k]);
        double product = double(w.dequantized[i]) * xv;
        exact += product;
        magnitude += std::fabs(quantized ? double(magnitudes[i]) * xv : product);
      }
      double tolerance;
      if (kQuant) {
        // matvec: 16 lanes of f32 steps (Q4_K: the step's two products), then summed across; matmul: one sum
        // of llama.cpp's steps per output (Q4_K: 4 per block in each of two sums, then their difference).
        exact = kQuantProduct[n];
        const bool q4k = w.type == WType::Q4_K;
        const int termsPerLane = (w.K / 256) * (q4k ? 2 : 1), matmulSteps = (w.K / 256) * (q4k ? 4 : 1);
        tolerance =
            std::max(dotTolerance(16 * termsPerLane, 16, 2, magnitude), dotTolerance(matmulSteps, 1, 3, magnitude));
      } else if (quantized) {
        tolerance = dotTolerance(w.K / 4, 8, 4, magnitude);
      } else {
        // lanes = 4 is the narrowest vector any family uses, which gives the loosest bound.
        tolerance = dotTolerance(w.K, 4, decodeOps(w.type), magnitude);
      }
      ASSERT_NEAR(y[size_t(t) * w.N + n], exact, tolerance) << "row " << n << " token " << t;
    }
  }
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, MatvecMatchesReference) {
  const LinearCase &c = GetParam();
  GRANITE_SKIP_UNLESS_HOST_RUNS(c.family);
  RandomWeights w = makeRandomWeights(c.type, c.K, kRows, 1234);
  std::vector<float> x = randomFloats(c.K, 99);
  Halide::Runtime::Buffer<void> weights;
  Halide::Runtime::Buffer<float> xBuf(x.data(), c.K), yBuf(kRows);
  ASSERT_EQ(c.matvec(weightBuffer(w, weights), xBuf, yBuf), 0);
  expectProductMatches(w, x, 1, yBuf.data(), quantizedDot(c.family, c.type));
}

TEST_P(LinearTest, MatmulMatchesReferenceForRaggedTokenCounts) {
  const LinearCase &c = GetParam();
  GRANITE_SKIP_UNLESS_HOST_RUNS(c.family);
  RandomWeights w = makeRandomWeights(c.type, c.K, kRows, 4321);
  // 1 and 13 tokens are not multiples of any token tile; 8 is.
  for (int tokens : {1, 8, 13}) {
    std::vector<float> x = randomFloats(size_t(c.K) * tokens, 7 + tokens);
    Halide::Runtime::Buffer<void> weights;
    Halide::Runtime::Buffer<float> xBuf(x.data(), c.K, tokens), yBuf(kRows, tokens);
    ASSERT_EQ(c.matmul(weightBuffer(w, weights), xBuf, yBuf), 0);
    expectProductMatches(w, x, tokens, yBuf.data(), quantizedDot(c.family, c.type));
  }
}

TEST_P(LinearTest, MatvecAgreesWithMatmulOnOneToken) {
  const LinearCase &c = GetParam();
  GRANITE_SKIP_UNLESS_HOST_RUNS(c.family);
  RandomWeights w = makeRandomWeights(c.type, c.K, kRows, 77);
  std::vector<float> x = randomFloats(c.K, 78);
  Halide::Runtime::Buffer<void> weights;
  Halide::Runtime::Buffer<float> xVec(x.data(), c.K), yVec(kRows);
  Halide::Runtime::Buffer<float> xMat(x.data(), c.K, 1), yMat(kRows, 1);
  ASSERT_EQ(c.matvec(weightBuffer(w, weights), xVec, yVec), 0);
  ASSERT_EQ(c.matmul(weightBuffer(w, weights), xMat, yMat), 0);
  // With quantized activations, Q8_0's matvec and matmul run the same arithmetic in the same order
  // (llama.cpp's) and must agree exactly. The K-quants' follow llama.cpp's, whose decode and batch
  // products sum in different orders (docs/kernels.md): each must be within the reference bound. With
  // f32 activations matvec may sum in another order (the K-quants' follows their storage order): each
  // result is within the reference test's bound of the exact product, so they differ by at most twice it.
  if (quantizedDot(c.family, c.type) && c.type != WType::Q8_0) {
    expectProductMatches(w, x, 1, yVec.data(), true);
    expectProductMatches(w, x, 1, yMat.data(), true);
    return;
  }
  const bool exact = quantizedDot(c.family, c.type);
  for (int n = 0; n < kRows; ++n) {
    if (exact) {
      EXPECT_EQ(yVec(n), yMat(n, 0)) << "row " << n;
      continue;
    }
    double magnitude = 0;
    for (int k = 0; k < c.K; ++k) magnitude += std::fabs(double(w.dequantized[size_t(n) * c.K + k]) * x[k]);
    EXPECT_NEAR(yVec(n), yMat(n, 0), 2 * dotTolerance(c.K, 4, decodeOps(c.type), magnitude)) << "row " << n;
  }
}

// expert_matvec reads only the experts named in expert_ids (repeats allowed) from the
// [K, N, E] tensor; output slot s holds expert ids[s]'s product, N floats per slot.
using ExpertMatvec = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
struct ExpertCase {
  const char *family;
  WType type;
  int K;
  ExpertMatvec expert;
};

class ExpertMatvecTest : public ::testing::TestWithParam<ExpertCase> {};

TEST_P(ExpertMatvecTest, SelectedExpertsOnly) {
  const ExpertCase &c = GetParam();
  GRANITE_SKIP_UNLESS_HOST_RUNS(c.family);
  const int N = 19, E = 5, slots = 3;
  // E experts stacked as one matrix of E*N rows: expert e is rows [e*N, (e+1)*N).
  RandomWeights all = makeRandomWeights(c.type, c.K, N * E, 61);
  std::vector<int32_t> ids = {4, 0, 4};
  std::vector<float> x = randomFloats(c.K, 62);
  Halide::Runtime::Buffer<void> weights;
  if (c.type == WType::F32)
    weights = Halide::Runtime::Buffer<float>((float *)all.kernelBytes.data(), c.K, N, E);
  else
    weights = Halide::Runtime::Buffer<uint8_t>(all.kernelBytes.data(), int(all.rowBytes), N, E);
  Halide::Runtime::Buffer<int32_t> idBuf(ids.data(), slots);
  Halide::Runtime::Buffer<float> xBuf(x.data(), c.K), yBuf(N * slots);
  ASSERT_EQ(c.expert(weights, idBuf, xBuf, yBuf), 0);
  for (int s = 0; s < slots; ++s) {
    RandomWeights expert = all;
    expert.N = N;
    expert.dequantized.assign(all.dequantized.begin() + size_t(ids[s]) * N * c.K,
                              all.dequantized.begin() + size_t(ids[s] + 1) * N * c.K);
    expert.bytes.assign(all.bytes.begin() + size_t(ids[s]) * N * all.rowBytes,
                        all.bytes.begin() + size_t(ids[s] + 1) * N * all.rowBytes);
    expectProductMatches(expert, x, 1, yBuf.data() + s * N, quantizedDot(c.family, c.type));
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ExpertMatvecTest,
                         ::testing::Values(ExpertCase{"avx2", WType::F32, 100, avx2_expert_matvec_f32},
                                           ExpertCase{"avx2", WType::Q4_K, 512, avx2_expert_matvec_q4_k},
                                           ExpertCase{"bf16", WType::F32, 100, bf16_expert_matvec_f32},
                                           ExpertCase{"bf16", WType::Q4_K, 512, bf16_expert_matvec_q4_k}),
                         [](const ::testing::TestParamInfo<ExpertCase> &info) {
                           return std::string(info.param.family) + "_" + infoOf(info.param.type).name;
                         });

// With bf16_dot the activations are rounded to BF16 before the product (vdpbf16ps). Against
// the reference on the same rounded activations, the f32 summation bound applies unchanged.
TEST(LinearBf16DotTest, MatvecAndMatmulMatchReferenceOnBf16RoundedActivations) {
  GRANITE_SKIP_UNLESS_HOST_RUNS("bf16");
  const int K = 100;
  RandomWeights w = makeRandomWeights(WType::BF16, K, kRows, 91);
  for (int tokens : {1, 5}) {
    std::vector<float> x = randomFloats(size_t(K) * tokens, 92 + tokens);
    std::vector<float> rounded(x.size());
    std::transform(x.begin(), x.end(), rounded.begin(), roundToBf16);
    Halide::Runtime::Buffer<void> weights;
    Halide::Runtime::Buffer<float> yBuf(kRows, tokens);
    if (tokens == 1) {
      Halide::Runtime::Buffer<float> xBuf(x.data(), K), yVec(kRows);
      ASSERT_EQ(bf16_matvec_bf16_dot(weightBuffer(w, weights), xBuf, yVec), 0);
      expectProductMatches(w, rounded, 1, yVec.data());
    }
    Halide::Runtime::Buffer<float> xBuf(x.data(), K, tokens);
    ASSERT_EQ(bf16_matmul_bf16_dot(weightBuffer(w, weights), xBuf, yBuf), 0);
    expectProductMatches(w, rounded, tokens, yBuf.data());
  }
}

// The quantized prefill products on x86-64-avx512-bf16 with register tiles of 2 row groups x 4 tokens in tasks of 2
// row groups, the K-quants with an odd block count. Against the reference for token counts around the token tile, and
// bit for bit for every token of a call: Q8_0 against matvec (prefill and decode run the same arithmetic in the same
// order), the K-quants against a one-token matmul (a token's row does not depend on how the prompt is cut into calls;
// their decode follows llama.cpp's decode order instead).
struct PrefillCase {
  WType type;
  int K;
  LinearFn matvec;
  LinearFn matmul;
};

std::ostream &operator<<(std::ostream &os, const PrefillCase &c) { return os << infoOf(c.type).name; }

class LinearQuantizedPrefillTest : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(LinearQuantizedPrefillTest, MatmulMatchesReferenceAndEveryTokenAlone) {
  const PrefillCase &c = GetParam();
  GRANITE_SKIP_UNLESS_HOST_RUNS("bf16");
  RandomWeights w = makeRandomWeights(c.type, c.K, kRows, 555);
  for (int tokens : {1, 3, 4, 5, 9}) {
    std::vector<float> x = randomFloats(size_t(c.K) * tokens, 100 + tokens);
    Halide::Runtime::Buffer<void> weights;
    Halide::Runtime::Buffer<float> xBuf(x.data(), c.K, tokens), yBuf(kRows, tokens);
    ASSERT_EQ(c.matmul(weightBuffer(w, weights), xBuf, yBuf), 0);
    expectProductMatches(w, x, tokens, yBuf.data(), true);
    for (int t = 0; t < tokens; ++t) {
      float *token = x.data() + size_t(t) * c.K;
      Halide::Runtime::Buffer<float> alone(kRows);
      if (c.type == WType::Q8_0) {
        Halide::Runtime::Buffer<float> xVec(token, c.K);
        ASSERT_EQ(c.matvec(weightBuffer(w, weights), xVec, alone), 0);
      } else {
        Halide::Runtime::Buffer<float> xMat(token, c.K, 1), yMat(alone.data(), kRows, 1);
        ASSERT_EQ(c.matmul(weightBuffer(w, weights), xMat, yMat), 0);
      }
      for (int n = 0; n < kRows; ++n)
        ASSERT_EQ(alone(n), yBuf(n, t)) << "row " << n << " token " << t << " of " << tokens;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Bf16Family, LinearQuantizedPrefillTest,
    ::testing::Values(PrefillCase{WType::Q8_0, 128, bf16_matvec_q8_0_tile2x4, bf16_matmul_q8_0_tile2x4},
                      PrefillCase{WType::Q4_K, 768, bf16_matvec_q4_k_tile2x4, bf16_matmul_q4_k_tile2x4},
                      PrefillCase{WType::Q6_K, 768, bf16_matvec_q6_k_tile2x4, bf16_matmul_q6_k_tile2x4}),
    [](const auto &info) {
      std::ostringstream name;
      name << info.param;
      return name.str();
    });

// The activations' block peak search (quantizeActivations) at its edges, on the quantized products of
// x86-64-avx512-bf16: an all-zero block (scale 0), the peak in a block's last element, and the same magnitude with
// both signs (ggml keeps the first, as the reference does).
TEST(LinearQuantizedActivationsTest, PeakSearchEdges) {
  GRANITE_SKIP_UNLESS_HOST_RUNS("bf16");
  for (const PrefillCase &c : {PrefillCase{WType::Q8_0, 128, bf16_matvec_q8_0_tile2x4, bf16_matmul_q8_0_tile2x4},
                               PrefillCase{WType::Q4_K, 768, bf16_matvec_q4_k_tile2x4, bf16_matmul_q4_k_tile2x4}}) {
    SCOPED_TRACE(infoOf(c.type).name);
    const int block = c.type == WType::Q8_0 ? 32 : 256, tokens = 3;
    RandomWeights w = makeRandomWeights(c.type, c.K, kRows, 808);
    std::vector<float> x = randomFloats(size_t(c.K) * tokens, 809, -0.5f, 0.5f);
    for (int t = 0; t < tokens; ++t) {
      float *token = x.data() + size_t(t) * c.K;
      std::fill(token, token + block, 0.0f); // block 0: all zeros
      token[2 * block - 1] = 0.75f;          // block 1: its peak in the last element
      token[block + 5] = -0.75f * (t % 2);   // ... and, on odd tokens, the same magnitude earlier, negative
      token[2 * block + 7 + t] = -0.9f;      // block 2: a negative peak
    }
    Halide::Runtime::Buffer<void> weights;
    Halide::Runtime::Buffer<float> xBuf(x.data(), c.K, tokens), yBuf(kRows, tokens);
    ASSERT_EQ(c.matmul(weightBuffer(w, weights), xBuf, yBuf), 0);
    expectProductMatches(w, x, tokens, yBuf.data(), true);
    for (int t = 0; t < tokens; ++t) {
      Halide::Runtime::Buffer<float> xVec(x.data() + size_t(t) * c.K, c.K), yVec(kRows);
      ASSERT_EQ(c.matvec(weightBuffer(w, weights), xVec, yVec), 0);
      expectProductMatches(w, std::vector<float>(x.begin() + size_t(t) * c.K, x.begin() + size_t(t + 1) * c.K), 1,
                           yVec.data(), true);
    }
  }
}

#define GRANITE_LINEAR_CASE(fam, type, wtype, K)                                                                       \
  LinearCase { #fam, WType::wtype, K, fam##_matvec_##type, fam##_matmul_##type }
#define GRANITE_LINEAR_FAMILY(fam)                                                                                     \
  GRANITE_LINEAR_CASE(fam, f32, F32, 100), GRANITE_LINEAR_CASE(fam, f16, F16, 100),                                    \
      GRANITE_LINEAR_CASE(fam, bf16, BF16, 100), GRANITE_LINEAR_CASE(fam, q8_0, Q8_0, 96),                             \
      GRANITE_LINEAR_CASE(fam, q4_k, Q4_K, 512), GRANITE_LINEAR_CASE(fam, q6_k, Q6_K, 512)

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, LinearTest,
                         ::testing::Values(GRANITE_LINEAR_FAMILY(avx2), GRANITE_LINEAR_FAMILY(bf16)),
                         [](const auto &info) {
                           std::ostringstream name;
                           name << info.param;
                           return name.str();
                         });

} // namespace
} // namespace granite::test
