// amx_matmul (x86-64-amx's BF16 prefill product on AMX tiles) against a plain loop in double over the BF16 weights
// and the BF16-rounded activations. The tile instances run only where the CPU has AMX and the kernel grants the tile
// state; elsewhere they are skipped with the reason. The same algorithm without tile storage (amx_tiles=false) runs
// on every CPU of x86-64-avx512-bf16, which checks the operands' layout and the epilogue here too.
#include "KernelTestUtil.h"
#include "Reference.h"

#include "amx_matmul_bf16_scaled_tiles.h"
#include "amx_matmul_bf16_scaled_vector.h"
#include "amx_matmul_bf16_square_tiles.h"
#include "amx_matmul_bf16_square_vector.h"
#include "runtime/AmxPermission.h"

#include <algorithm>

namespace granite::test {
namespace {

using MatmulFn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);

constexpr int kRows = 37; // out_features of every instance (test/Kernels/CMakeLists.txt)

struct AmxCase {
  const char *name;
  int K;
  float divisor, scale; // output_divisor, output_scale
  MatmulFn tiles, vector;
};

const AmxCase kCases[] = {
    {"square", 100, 1.0f, 1.0f, amx_matmul_bf16_square_tiles, amx_matmul_bf16_square_vector},
    {"scaled", 64, 4.0f, 0.5f, amx_matmul_bf16_scaled_tiles, amx_matmul_bf16_scaled_vector},
};

/// Why the tile instances cannot run here, or "".
std::string whyNoTiles() {
  const target::CpuFamily &amx = *target::findFamily("x86-64-amx");
  if (!target::hostCanRun(amx))
    return "this CPU has no AMX (amx-tile, amx-bf16): it lacks " + target::hostMissingFeature(amx);
  return runtime::requestAmxTileState("amx-tile");
}

/// Runs `fn` on `tokens` random tokens and compares with the reference: y[n][t] = sum_k w[n][k] bf16(x[k][t]),
/// divided by `divisor`, times `scale`. AMX-BF16 adds each pair of products to the f32 accumulator, one pair after
/// the other: K/2 sequential additions, within dotTolerance with one lane; the divisor and the scale round twice more.
void expectMatchesReference(const AmxCase &c, MatmulFn fn, int tokens) {
  RandomWeights w = makeRandomWeights(WType::BF16, c.K, kRows, 500 + c.K + tokens);
  std::vector<float> x = randomFloats(size_t(c.K) * tokens, 600 + tokens);
  Halide::Runtime::Buffer<uint16_t> weights(reinterpret_cast<uint16_t *>(w.kernelBytes.data()), c.K, kRows);
  Halide::Runtime::Buffer<float> xBuf(x.data(), c.K, tokens), yBuf(kRows, tokens);
  ASSERT_EQ(fn(weights, xBuf, yBuf), 0);
  for (int t = 0; t < tokens; ++t)
    for (int n = 0; n < kRows; ++n) {
      double exact = 0, magnitude = 0;
      for (int k = 0; k < c.K; ++k) {
        double product = double(w.dequantized[size_t(n) * c.K + k]) * roundToBf16(x[size_t(t) * c.K + k]);
        exact += product;
        magnitude += std::fabs(product);
      }
      const double factor = double(c.scale) / c.divisor;
      ASSERT_NEAR(yBuf(n, t), exact * factor, dotTolerance(c.K, 1, 4, magnitude) * factor)
          << c.name << " row " << n << " token " << t << " of " << tokens;
    }
}

// 1 token (the runtime never sends one, but the kernel takes it), fewer than a tile, several tiles with a partial
// last one, and more than two 16-token tiles.
const int kTokenCounts[] = {1, 5, 13, 16, 33};

TEST(AmxMatmulTest, TileInstancesMatchReference) {
  if (std::string why = whyNoTiles(); !why.empty()) GTEST_SKIP() << why;
  for (const AmxCase &c : kCases)
    for (int tokens : kTokenCounts) expectMatchesReference(c, c.tiles, tokens);
}

TEST(AmxMatmulTest, VectorInstancesOfTheSameAlgorithmMatchReference) {
  GRANITE_SKIP_UNLESS_HOST_RUNS("bf16");
  for (const AmxCase &c : kCases)
    for (int tokens : kTokenCounts) expectMatchesReference(c, c.vector, tokens);
}

} // namespace
} // namespace granite::test
