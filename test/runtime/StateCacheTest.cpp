// Multi-turn state reuse: the LRU of snapshots, and the Generator resuming from it or rolling an attention-only
// model back, with replies identical to a run without any reuse.
#include "runtime/StateCache.h"
#include "GraniteVocabularyFixture.h"
#include "runtime/Generator.h"
#include "runtime/GraniteVocabulary.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

/// A model whose next token is a hash of every id it was fed and of whether each came alone or in a batch, like a
/// recurrent state whose arithmetic differs between decode and prefill: any reuse of the wrong state, or of a state
/// built differently from a prefill, changes the replies. It can take snapshots; with `rollsBack` it can also
/// truncate, like an attention-only model.
class HistoryModel : public Model {
public:
  explicit HistoryModel(bool rollsBack) : rollsBack_(rollsBack) {}

  struct Snapshot : ModelSnapshot {
    std::vector<int32_t> history;
    uint64_t bytes() const override { return 100 * history.size(); }
  };

  int32_t vocabSize() const override { return kGraniteVocabularySize; }
  int32_t contextLength() const override { return 0; }
  void reset() override { history.clear(); }
  void forward(const int32_t *ids, int32_t count, float *lastLogits) override {
    for (int32_t i = 0; i < count; ++i) history.push_back(count == 1 ? -1 - ids[i] : ids[i]);
    fed += count;
    uint64_t hash = 1469598103934665603ull;
    for (int32_t entry : history) hash = (hash ^ static_cast<uint64_t>(entry)) * 1099511628211ull;
    std::fill(lastLogits, lastLogits + kGraniteVocabularySize, 0.0f);
    // Ids 300..427 are ordinary tokens; now and then the end token, so replies stay short.
    lastLogits[hash % 5 == 0 ? kGraniteEndOfTextId : 300 + static_cast<int32_t>(hash % 128)] = 10.0f;
  }
  bool truncate(int32_t positions) override {
    if (!rollsBack_) return false;
    history.resize(positions);
    return true;
  }
  std::unique_ptr<ModelSnapshot> snapshot() const override {
    auto copy = std::make_unique<Snapshot>();
    copy->history = history;
    return copy;
  }
  void restore(const ModelSnapshot &snapshot) override { history = dynamic_cast<const Snapshot &>(snapshot).history; }

  std::vector<int32_t> history;
  int64_t fed = 0;

private:
  bool rollsBack_;
};

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Turns {
  std::vector<GenerationResult> results;
  int64_t fed = 0;
};

/// Four turns; each prompt is the previous prompt, the previous reply's first id only (as if the reply had been cut
/// at a stop string) and a new user message, so it never extends what the model holds.
Turns converse(HistoryModel &model, StateCache *cache) {
  Tokenizer &tokenizer = graniteTokenizer();
  Generator generator(model, tokenizer, SamplingParams{}, cache);
  GenerationLimits limits;
  limits.maxTokens = 6;
  Turns turns;
  std::vector<int32_t> prompt = {11, 12, 13};
  for (int turn = 0; turn < 4; ++turn) {
    GenerationResult result = generator.generate(prompt, limits, [](std::string_view) {});
    std::vector<int32_t> reply = result.ids.empty() ? std::vector<int32_t>{} : std::vector<int32_t>{result.ids[0]};
    turns.results.push_back(std::move(result));
    prompt = concat(concat(prompt, reply), {kGraniteEndOfTextId, 20 + turn, 21 + turn});
  }
  turns.fed = model.fed;
  return turns;
}

TEST(StateCache, KeepsTheMostRecentlyUsedWithinItsCapacity) {
  StateCache cache(900);
  auto snapshotOf = [](size_t tokens) {
    auto snapshot = std::make_unique<HistoryModel::Snapshot>();
    snapshot->history.assign(tokens, 1);
    return snapshot;
  };
  cache.insert({1, 2, 3}, snapshotOf(3));    // 300 bytes
  cache.insert({1, 2, 3, 4}, snapshotOf(4)); // 400
  EXPECT_EQ(cache.bytes(), 700u);
  // The longest stored prefix, no longer than asked.
  EXPECT_EQ(cache.longestPrefix({1, 2, 3, 4, 5}, 1, 10)->tokens.size(), 4u);
  EXPECT_EQ(cache.longestPrefix({1, 2, 3, 4, 5}, 1, 3)->tokens.size(), 3u);
  EXPECT_EQ(cache.longestPrefix({1, 2, 9}, 1, 10), nullptr);
  EXPECT_EQ(cache.longestPrefix({1, 2, 3, 4, 5}, 5, 10), nullptr);
  // {1,2,3} was used last, so the next insert evicts {1,2,3,4}.
  cache.insert({7, 7, 7}, snapshotOf(3));
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_TRUE(cache.contains({1, 2, 3}));
  EXPECT_FALSE(cache.contains({1, 2, 3, 4}));
  EXPECT_EQ(cache.bytes(), 600u);
  // Larger than the whole capacity: not stored, nothing evicted.
  cache.insert({8}, snapshotOf(11));
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.lookups(), 4u);
}

TEST(StateCache, ARecurrentModelResumesFromTheCutPromptAndRepliesAsWithoutTheCache) {
  HistoryModel plain(false), cached(false);
  StateCache off(0);
  Turns without = converse(plain, &off);
  StateCache cache(1 << 20);
  Turns with = converse(cached, &cache);
  for (size_t turn = 0; turn < 4; ++turn) {
    EXPECT_EQ(with.results[turn].ids, without.results[turn].ids) << "turn " << turn;
    if (turn == 0) continue;
    // The reply's kept id, the end token and the new message are prefilled after the snapshot of the previous
    // prompt; the reply's ids the model holds were fed one at a time, so they are not reused.
    EXPECT_EQ(with.results[turn].evaluatedPromptTokens,
              with.results[turn].promptTokens - with.results[turn - 1].promptTokens)
        << "turn " << turn;
  }
  EXPECT_LT(with.fed, without.fed);
  EXPECT_EQ(cache.hits(), 3u);
}

TEST(StateCache, AnAttentionOnlyModelRollsBackToThePreviousPrompt) {
  HistoryModel plain(true), rolled(true);
  StateCache off(0), on(1 << 20);
  Turns without = converse(plain, &off);
  Turns with = converse(rolled, &on);
  for (size_t turn = 1; turn < 4; ++turn) {
    EXPECT_EQ(with.results[turn].ids, without.results[turn].ids);
    EXPECT_EQ(with.results[turn].evaluatedPromptTokens,
              with.results[turn].promptTokens - with.results[turn - 1].promptTokens);
  }
  EXPECT_LT(with.fed, without.fed);
}

TEST(StateCache, WithoutACacheTheHeldReplyIsExtended) {
  // No snapshots: what the model holds is reused as far as the prompt extends it, the reply's first id included,
  // at the price of logits that may differ from a prefill from the first token in the last bits.
  HistoryModel model(true);
  Turns turns = converse(model, nullptr);
  for (size_t turn = 1; turn < 4; ++turn) {
    const GenerationResult &previous = turns.results[turn - 1];
    EXPECT_EQ(turns.results[turn].evaluatedPromptTokens,
              turns.results[turn].promptTokens - previous.promptTokens - (previous.ids.empty() ? 0 : 1));
  }
}

TEST(StateCache, AnotherConversationInBetweenStillResumes) {
  HistoryModel model(false);
  StateCache cache(1 << 20);
  Tokenizer &tokenizer = graniteTokenizer();
  Generator generator(model, tokenizer, SamplingParams{}, &cache);
  GenerationLimits limits;
  limits.maxTokens = 3;
  GenerationResult a1 = generator.generate({11, 12, 13}, limits, [](std::string_view) {});
  generator.generate({40, 41}, limits, [](std::string_view) {});
  std::vector<int32_t> a2 = concat(concat({11, 12, 13}, a1.ids), {kGraniteEndOfTextId, 50});
  GenerationResult resumed = generator.generate(a2, limits, [](std::string_view) {});
  HistoryModel fresh(false);
  Generator reference(fresh, tokenizer, SamplingParams{});
  EXPECT_EQ(resumed.ids, reference.generate(a2, limits, [](std::string_view) {}).ids);
  EXPECT_LT(resumed.evaluatedPromptTokens, resumed.promptTokens);
}

} // namespace
} // namespace granite::runtime::testing

namespace granite::runtime::testing {
namespace {

TEST(StateCache, CapacityZeroPrefillsEveryPromptFromItsFirstToken) {
  HistoryModel model(true);
  StateCache off(0);
  Turns turns = converse(model, &off);
  for (const GenerationResult &result : turns.results) EXPECT_EQ(result.evaluatedPromptTokens, result.promptTokens);
  EXPECT_EQ(off.entries(), 0u);
}

} // namespace
} // namespace granite::runtime::testing
