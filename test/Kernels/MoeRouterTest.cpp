// MoE router: top-k ids and renormalised weights against a plain sort + softmax.
#include "KernelTestUtil.h"
#include "Reference.h"

#include "avx2_moe_router.h"
#include "bf16_moe_router.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace granite::test {
namespace {

using Halide::Runtime::Buffer;
using RouterFn = decltype(&avx2_moe_router);

class MoeRouterTest : public ::testing::TestWithParam<std::pair<std::string, RouterFn>> {};

TEST_P(MoeRouterTest, TopKWithRenormalisedWeights) {
  GRANITE_SKIP_UNLESS_HOST_RUNS(GetParam().first);
  const int E = 8, K = 3, T = 5;
  auto logits = randomFloats(E * T, 41, -4, 4);
  logits[E * 4 + 2] = logits[E * 4 + 6] = 9.0f; // a tie at the top: lower id first
  Buffer<float> lb(logits.data(), E, T);
  Buffer<int32_t> ids(K, T);
  Buffer<float> weights(K, T);
  ASSERT_EQ(GetParam().second(lb, ids, weights), 0);
  for (int t = 0; t < T; ++t) {
    std::vector<int> order(E);
    std::iota(order.begin(), order.end(), 0);
    const float *l = &logits[t * E];
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
    double total = 0;
    for (int j = 0; j < K; ++j) total += std::exp(double(l[order[j]]) - l[order[0]]);
    double weightSum = 0;
    for (int j = 0; j < K; ++j) {
      EXPECT_EQ(ids(j, t), order[j]) << "token " << t << " slot " << j;
      double expected = std::exp(double(l[order[j]]) - l[order[0]]) / total;
      EXPECT_NEAR(weights(j, t), expected, 1e-6) << "token " << t << " slot " << j;
      weightSum += weights(j, t);
    }
    EXPECT_NEAR(weightSum, 1.0, 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, MoeRouterTest,
                         ::testing::Values(std::pair{std::string("avx2"), &avx2_moe_router},
                                           std::pair{std::string("bf16"), &bf16_moe_router}),
                         [](const auto &info) { return info.param.first; });

} // namespace
} // namespace granite::test
