// Sampler properties: top-k/top-p/min-p keep the right sets, penalties change exactly the right logits, the same
// seed gives the same draws, and masked (padding) ids are never drawn.
#include "runtime/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace granite::runtime::testing {
namespace {

std::vector<float> logitsForProbabilities(const std::vector<double> &probabilities) {
  std::vector<float> logits;
  for (double p : probabilities) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

SamplingParams onlyTemperature(float temperature, uint64_t seed) {
  SamplingParams params;
  params.temperature = temperature;
  params.topK = 0;
  params.topP = 1;
  params.minP = 0;
  params.seed = seed;
  return params;
}

TEST(Sampler, GreedyPicksTheArgmaxAndTheLowestIdOnTies) {
  Sampler sampler(onlyTemperature(0, 1), {});
  EXPECT_EQ(sampler.sample({0.1f, 3.0f, -2.0f, 2.9f}), 1);
  EXPECT_EQ(sampler.sample({5.0f, 1.0f, 5.0f}), 0);
}

TEST(Sampler, TopKNeverLeavesTheKBest) {
  std::vector<float> logits(200);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i) * 12.9898f) * 3; // scrambled order
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const std::set<int32_t> best(order.begin(), order.begin() + 5);

  SamplingParams params = onlyTemperature(5.0f, 7); // hot: without top-k nearly everything would appear
  params.topK = 5;
  Sampler sampler(params, {});
  std::set<int32_t> seen;
  for (int draw = 0; draw < 3000; ++draw) seen.insert(sampler.sample(logits));
  EXPECT_EQ(seen, best);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingTheMassAndRenormalizes) {
  const std::vector<float> logits = logitsForProbabilities({0.5, 0.3, 0.15, 0.05});
  std::vector<TokenCandidate> candidates;
  for (int32_t id = 0; id < 4; ++id) candidates.push_back({id, logits[id]});
  keepTopP(candidates, 0.75f); // 0.5 < 0.75 ≤ 0.5 + 0.3
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].id, 0);
  EXPECT_EQ(candidates[1].id, 1);

  SamplingParams params = onlyTemperature(1, 11);
  params.topP = 0.75f;
  Sampler sampler(params, {});
  std::map<int32_t, int> counts;
  const int draws = 20000;
  for (int draw = 0; draw < draws; ++draw) ++counts[sampler.sample(logits)];
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[0] / double(draws), 0.5 / 0.8, 0.015);
  EXPECT_NEAR(counts[1] / double(draws), 0.3 / 0.8, 0.015);
}

TEST(Sampler, MinPDropsTokensBelowTheFractionOfTheTopProbability) {
  const std::vector<float> logits = logitsForProbabilities({0.6, 0.25, 0.1, 0.05});
  std::vector<TokenCandidate> candidates;
  for (int32_t id = 0; id < 4; ++id) candidates.push_back({id, logits[id]});
  keepMinP(candidates, 0.2f); // keeps p ≥ 0.12
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].id, 0);
  EXPECT_EQ(candidates[1].id, 1);
}

TEST(Sampler, PenaltiesChangeOnlyRecentTokensTheLlamaCppWay) {
  SamplingParams params;
  params.repeatPenalty = 2.0f;
  params.presencePenalty = 0.5f;
  params.frequencyPenalty = 0.25f;
  std::vector<TokenCandidate> candidates = {{0, 4.0f}, {1, -4.0f}, {2, 4.0f}, {3, 1.0f}};
  std::deque<int32_t> recent = {0, 1, 1, 0, 0};
  applyPenalties(candidates, recent, params);
  EXPECT_FLOAT_EQ(candidates[0].logit, 4.0f / 2 - 3 * 0.25f - 0.5f);  // positive: divided
  EXPECT_FLOAT_EQ(candidates[1].logit, -4.0f * 2 - 2 * 0.25f - 0.5f); // negative: multiplied
  EXPECT_FLOAT_EQ(candidates[2].logit, 4.0f);                         // not recent: untouched
  EXPECT_FLOAT_EQ(candidates[3].logit, 1.0f);
}

TEST(Sampler, PenaltyWindowForgetsOldTokens) {
  SamplingParams params = onlyTemperature(0, 1);
  params.repeatPenalty = 100.0f;
  params.penaltyWindow = 2;
  Sampler sampler(params, {});
  for (int32_t id : {0, 2, 2}) sampler.accept(id); // 0 left the window of 2
  EXPECT_EQ(sampler.sample({3.0f, 2.0f, 2.5f}), 0);
  sampler.accept(0);
  EXPECT_EQ(sampler.sample({3.0f, 2.0f, 2.5f}), 1); // 0 and 2 are penalized now
}

TEST(Sampler, SameSeedSameDrawsDifferentSeedDifferentDraws) {
  const std::vector<float> logits = logitsForProbabilities({0.2, 0.2, 0.2, 0.2, 0.2});
  auto draws = [&](uint64_t seed) {
    Sampler sampler(onlyTemperature(1, seed), {});
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(sampler.sample(logits));
    return out;
  };
  EXPECT_EQ(draws(42), draws(42));
  EXPECT_NE(draws(42), draws(43));
}

TEST(Sampler, NeverDrawsMaskedIds) {
  std::vector<float> logits = {0.0f, 1.0f, 0.5f, 50.0f, 60.0f}; // the masked ids have by far the best logits
  std::vector<bool> mask = {false, false, false, true, true};
  Sampler greedy(onlyTemperature(0, 3), mask);
  EXPECT_EQ(greedy.sample(logits), 1);
  SamplingParams hot = onlyTemperature(50.0f, 3);
  Sampler sampler(hot, mask);
  for (int draw = 0; draw < 2000; ++draw) EXPECT_LT(sampler.sample(logits), 3);
  Sampler allMasked(onlyTemperature(0, 3), std::vector<bool>(5, true));
  EXPECT_THROW(allMasked.sample(logits), std::invalid_argument);
}

} // namespace
} // namespace granite::runtime::testing

namespace granite::runtime::testing {
namespace {

TEST(Sampler, LogitBiasShiftsLogitsBeforeEverythingElse) {
  SamplingParams params = onlyTemperature(0, 1);
  params.logitBias = {{0, -100.0f}, {2, 2.5f}};
  Sampler sampler(params, {});
  // Id 0 is banned in effect, id 2 overtakes id 1 (1.0 + 2.5 > 3.0).
  EXPECT_EQ(sampler.sample({9.0f, 3.0f, 1.0f}), 2);
  params.logitBias = {{2, 1.5f}};
  EXPECT_EQ(Sampler(params, {}).sample({0.0f, 3.0f, 1.0f}), 1);
}

TEST(Sampler, LogprobsAreTheLogSoftmaxOverSampleableIds) {
  std::vector<double> p = {0.5, 0.25, 0.125, 0.125};
  std::vector<float> logits = logitsForProbabilities(p);
  logits.push_back(50.0f); // a masked id: excluded from the distribution
  Sampler sampler(onlyTemperature(0, 1), {false, false, false, false, true});
  TokenLogprobs logprobs = sampler.logprobs(logits, 2, 2);
  EXPECT_EQ(logprobs.chosen.id, 2);
  EXPECT_NEAR(logprobs.chosen.logit, std::log(0.125), 1e-6);
  ASSERT_EQ(logprobs.top.size(), 2u);
  EXPECT_EQ(logprobs.top[0].id, 0);
  EXPECT_NEAR(logprobs.top[0].logit, std::log(0.5), 1e-6);
  EXPECT_EQ(logprobs.top[1].id, 1);
  EXPECT_NEAR(logprobs.top[1].logit, std::log(0.25), 1e-6);
  EXPECT_TRUE(sampler.logprobs(logits, 0, 0).top.empty());
}

TEST(Sampler, AStepMaskComesBeforeBiasAndLeavesTheBestAllowed) {
  std::vector<float> logits{5.0f, 4.0f, 3.0f, 2.0f, 1.0f};
  const std::vector<uint64_t> allowed{(1u << 2) | (1u << 3)}; // ids 2 and 3
  SamplingParams greedy = onlyTemperature(0, 1);
  greedy.logitBias = {{0, 100.0f}};
  Sampler sampler(greedy, {});
  EXPECT_EQ(sampler.sample(logits), 0);
  EXPECT_EQ(sampler.sample(logits, &allowed), 2); // the bias cannot bring back a masked id
  Sampler hot(onlyTemperature(2, 9), {false, false, true});
  for (int draw = 0; draw < 50; ++draw) {
    int32_t id = hot.sample(logits, &allowed);
    EXPECT_EQ(id, 3); // id 2 is never sampled (neverSample): id 3 is the only one left
  }
  const std::vector<uint64_t> none{0};
  EXPECT_THROW(sampler.sample(logits, &none), std::invalid_argument);
}

} // namespace
} // namespace granite::runtime::testing
