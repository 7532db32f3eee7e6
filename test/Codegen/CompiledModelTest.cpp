// CompiledModel over the fake model object, in process: chunking, reset, context and input checks, and the switch to
// the weights' huge-page copy between two forward calls.
#include "runtime/CompiledModel.h"
#include "FakeReference.h"
#include "test/TestFiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>

namespace granite::runtime {
namespace {

using namespace granite::fake;

constexpr uint64_t kSmallTableOffset = 4096; // the small variant's FAKE_TABLE_OFFSET

const std::vector<int32_t> kPrompt = {5, 17, 300, 2, 511, 0, 42, 42, 128, 7, 99, 260};

TEST(CompiledModel, ReportsTheCompiledShape) {
  std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
  WeightMemory weights = WeightMemory::mapped({blob.data(), blob.size()});
  CompiledModel model(weights);
  EXPECT_EQ(model.vocabSize(), kVocab);
  EXPECT_EQ(model.contextLength(), kContext);
  EXPECT_STREQ(model.info().variant, "fake-test");
  EXPECT_EQ(model.setThreads(3), 3);
  EXPECT_EQ(model.threads(), 3);
}

extern "C" GraniteParallelFor fake_installed_parallel_for(void);

TEST(CompiledModel, RunsTheKernelsParallelLoopsOnItsPool) {
  std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
  WeightMemory weights = WeightMemory::mapped({blob.data(), blob.size()});
  CompiledModel model(weights);
  EXPECT_EQ(model.threads(), 2); // the fake's default_threads
  GraniteParallelFor parallelFor = fake_installed_parallel_for();
  ASSERT_NE(parallelFor, nullptr);
  std::vector<int> hits(100);
  auto task = [](void *, int index, uint8_t *closure) {
    reinterpret_cast<int *>(closure)[index] += 1;
    return 0;
  };
  EXPECT_EQ(parallelFor(nullptr, task, 0, 100, reinterpret_cast<uint8_t *>(hits.data())), 0);
  EXPECT_EQ(hits, std::vector<int>(100, 1));
}

TEST(CompiledModel, EveryChunkSizeGivesTheReferenceLogits) {
  std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
  const std::vector<float> expected = referenceLogits(kPrompt);
  for (int32_t chunk : {0, 1, 5, 12}) { // 0: the model's max_tokens (8), so 12 tokens take two calls
    SCOPED_TRACE(chunk);
    WeightMemory weights = WeightMemory::mapped({blob.data(), blob.size()});
    CompiledModel model(weights);
    model.setChunkSize(chunk);
    std::vector<float> all(kPrompt.size() * kVocab);
    model.forwardAll(kPrompt.data(), static_cast<int32_t>(kPrompt.size()), all.data());
    EXPECT_EQ(all, expected);
    EXPECT_EQ(model.position(), static_cast<int32_t>(kPrompt.size()));
  }
}

TEST(CompiledModel, ForwardWritesTheLastRowAndContinuesTheSequence) {
  std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
  const std::vector<float> expected = referenceLogits(kPrompt);
  WeightMemory weights = WeightMemory::mapped({blob.data(), blob.size()});
  CompiledModel model(weights);
  std::vector<float> last(kVocab);
  model.forward(kPrompt.data(), 10, last.data());
  EXPECT_EQ(last, std::vector<float>(expected.begin() + 9 * kVocab, expected.begin() + 10 * kVocab));
  model.forward(kPrompt.data() + 10, 2, last.data());
  EXPECT_EQ(last, std::vector<float>(expected.end() - kVocab, expected.end()));
}

TEST(CompiledModel, ResetStartsAnEmptySequence) {
  std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
  WeightMemory weights = WeightMemory::mapped({blob.data(), blob.size()});
  CompiledModel model(weights);
  std::vector<float> all(kPrompt.size() * kVocab);
  model.forwardAll(kPrompt.data(), 7, all.data());
  model.reset();
  EXPECT_EQ(model.position(), 0);
  model.forwardAll(kPrompt.data(), static_cast<int32_t>(kPrompt.size()), all.data());
  EXPECT_EQ(all, referenceLogits(kPrompt));
}

TEST(CompiledModel, RejectsAFullContextBadIdsAndAWrongBlob) {
  std::vector<uint8_t> blob = smallBlob(kSmallTableOffset);
  WeightMemory weights = WeightMemory::mapped({blob.data(), blob.size()});
  CompiledModel model(weights);
  std::vector<int32_t> ids(kContext, 1);
  std::vector<float> last(kVocab);
  model.forward(ids.data(), kContext, last.data());
  int32_t one = 1;
  try {
    model.forward(&one, 1, last.data());
    FAIL() << "no error for a full context";
  } catch (const ModelError &e) {
    EXPECT_STREQ(e.what(), "the context is full: 256 + 1 tokens exceed 256 positions");
  }
  model.reset();
  int32_t outside = kVocab;
  EXPECT_THROW(model.forward(&outside, 1, last.data()), ModelError);
  try {
    WeightMemory shortBlob = WeightMemory::mapped({blob.data(), blob.size() - 1});
    CompiledModel wrong(shortBlob);
    FAIL() << "no error for a short blob";
  } catch (const ModelError &e) {
    EXPECT_EQ(std::string(e.what()), "the weight blob holds " + std::to_string(blob.size() - 1) +
                                         " bytes, the compiled model reads " + std::to_string(blob.size()));
  }
}

extern "C" const uint8_t *fake_last_weights(void);

/// The greedy pick of referenceGreedy: the highest logit among the tokenizer's ids, the lowest id on ties.
int32_t greedyId(const std::vector<float> &logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.begin() + kTokenizerSize) - logits.begin());
}

TEST(CompiledModel, DecodesTheSameIdsWhileTheWeightsAreCopiedAndAfterTheCopyTakesOver) {
  test::MappedFile blob(smallBlob(kSmallTableOffset));
  std::promise<void> copyHeld, resume;
  std::shared_future<void> resumed = resume.get_future().share();
  WeightMemory weights = WeightMemory::hugePageCopy({blob.data(), blob.size()}, [&] {
    copyHeld.set_value();
    resumed.wait();
  });
  if (!weights.copyFailure().empty()) {
    resume.set_value();
    GTEST_SKIP() << "no huge-page copy here: " << weights.copyFailure();
  }
  CompiledModel model(weights);
  const std::vector<int32_t> prompt = {5, 17, 300};
  constexpr int32_t kSteps = 12, kStepsOnTheSource = 5;
  std::vector<int32_t> decoded;
  std::vector<float> logits(kVocab);
  model.forward(prompt.data(), static_cast<int32_t>(prompt.size()), logits.data());
  const bool held = copyHeld.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  // The copy is complete but held before it takes over: the forward calls still read the mapped blob.
  for (int32_t step = 0; step < kStepsOnTheSource; ++step) {
    decoded.push_back(greedyId(logits));
    model.forward(&decoded.back(), 1, logits.data());
    EXPECT_EQ(fake_last_weights(), blob.data());
  }
  resume.set_value();
  ASSERT_TRUE(held) << "the copy did not complete within a minute";
  ASSERT_TRUE(weights.waitForCopy());
  ASSERT_NE(weights.data(), blob.data());
  for (int32_t step = kStepsOnTheSource; step < kSteps; ++step) {
    decoded.push_back(greedyId(logits));
    model.forward(&decoded.back(), 1, logits.data());
    EXPECT_EQ(fake_last_weights(), weights.data());
  }
  EXPECT_EQ(decoded, referenceGreedy(prompt, kSteps, std::vector<bool>(kVocab, false), nullptr));
}

} // namespace
} // namespace granite::runtime
