// The server's bounded queue in front of the one model (runtime/GenerationQueue.h), with a scripted model whose
// prompt feed can be held until the test lets it go.
#include "runtime/GenerationQueue.h"
#include "GraniteVocabularyFixture.h"
#include "ScriptedModel.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

namespace granite::runtime {
namespace {

using namespace std::chrono_literals;

/// Blocks every prompt feed until open() is called.
class GatedModel : public testing::ScriptedModel {
public:
  using ScriptedModel::ScriptedModel;
  void forward(const int32_t *ids, int32_t count, float *logits) override {
    if (count > 1) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++waitingFeeds_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
    }
    ScriptedModel::forward(ids, count, logits);
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  /// Waits until a prompt feed is held.
  void waitForFeed() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return waitingFeeds_ > 0; });
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int waitingFeeds_ = 0;
};

struct QueueFixture : ::testing::Test {
  Tokenizer &tokenizer = testing::graniteTokenizer();
  std::vector<int32_t> ids(const char *text) { return tokenizer.encode(text, false); }
  std::shared_ptr<GenerationJob> job(const char *prompt) {
    return std::make_shared<GenerationJob>(ids(prompt), GenerationLimits{}, SamplingParams{});
  }
  static GenerationJob::Update finish(GenerationJob &job) {
    GenerationJob::Update all;
    for (;;) {
      GenerationJob::Update update = job.waitForUpdate(10s);
      all.text += update.text;
      all.finished = update.finished;
      if (update.finished) return all;
    }
  }
};

TEST_F(QueueFixture, RunsJobsInOrderAndRefusesWhenFull) {
  GatedModel model(tokenizer.size(), {ids(" first"), ids(" second")}, tokenizer.eosId());
  Generator generator(model, tokenizer, SamplingParams{});
  std::vector<int32_t> finished;
  GenerationQueue queue(generator, /*maxWaiting=*/1,
                        [&](const GenerationResult &result) { finished.push_back(result.promptTokens); });
  auto a = job("Hello there"), b = job("Next one please"), c = job("No room");
  ASSERT_TRUE(queue.submit(a));
  model.waitForFeed();
  EXPECT_TRUE(queue.busy());
  ASSERT_TRUE(queue.submit(b));
  EXPECT_EQ(queue.waiting(), 1u);
  EXPECT_FALSE(queue.submit(c)); // one running, one waiting: full
  model.open();
  EXPECT_EQ(finish(*a).text, " first");
  EXPECT_EQ(finish(*b).text, " second");
  EXPECT_TRUE(a->error().empty());
  EXPECT_EQ(a->result().stopReason, StopReason::EndOfGeneration);
  EXPECT_EQ(finished, (std::vector<int32_t>{static_cast<int32_t>(ids("Hello there").size()),
                                            static_cast<int32_t>(ids("Next one please").size())}));
}

TEST_F(QueueFixture, AnIdleQueueWithNoWaitingPlacesStillTakesAJob) {
  testing::ScriptedModel model(tokenizer.size(), {ids(" ok")}, tokenizer.eosId());
  Generator generator(model, tokenizer, SamplingParams{});
  GenerationQueue queue(generator, /*maxWaiting=*/0, nullptr);
  auto a = job("Hi");
  ASSERT_TRUE(queue.submit(a));
  EXPECT_EQ(finish(*a).text, " ok");
}

TEST_F(QueueFixture, ACancelledWaitingJobCostsNoPrefill) {
  GatedModel model(tokenizer.size(), {ids(" first"), ids(" second")}, tokenizer.eosId());
  Generator generator(model, tokenizer, SamplingParams{});
  GenerationQueue queue(generator, 4, nullptr);
  auto a = job("Hello there"), b = job("Next one please");
  ASSERT_TRUE(queue.submit(a));
  model.waitForFeed();
  ASSERT_TRUE(queue.submit(b));
  b->cancel();
  model.open();
  finish(*a);
  finish(*b);
  EXPECT_EQ(b->result().stopReason, StopReason::Interrupted);
  EXPECT_TRUE(b->result().ids.empty());
  EXPECT_EQ(model.promptCalls.size(), 1u); // only a's prompt was fed
}

TEST_F(QueueFixture, CancellingARunningJobEndsItWithinAToken) {
  std::vector<int32_t> ticks;
  for (int i = 0; i < 500; ++i) ticks.push_back(ids(" tick").at(0));
  testing::ScriptedModel model(tokenizer.size(), {ticks}, tokenizer.eosId());
  Generator generator(model, tokenizer, SamplingParams{});
  GenerationQueue queue(generator, 4, nullptr);
  auto a = job("Tick for me");
  ASSERT_TRUE(queue.submit(a));
  GenerationJob::Update first = a->waitForUpdate(10s);
  ASSERT_FALSE(first.text.empty());
  a->cancel();
  finish(*a);
  EXPECT_EQ(a->result().stopReason, StopReason::Interrupted);
  EXPECT_LT(a->result().ids.size(), 500u);
}

TEST_F(QueueFixture, ShutdownRefusesNewJobsAndFinishesWaitingOnesWithAnError) {
  GatedModel model(tokenizer.size(), {ids(" first"), ids(" second")}, tokenizer.eosId());
  Generator generator(model, tokenizer, SamplingParams{});
  GenerationQueue queue(generator, 4, nullptr);
  auto a = job("Hello there"), b = job("Next one please");
  ASSERT_TRUE(queue.submit(a));
  model.waitForFeed();
  ASSERT_TRUE(queue.submit(b));
  queue.shutdown();
  EXPECT_TRUE(finish(*b).finished);
  EXPECT_EQ(b->error(), "the server is shutting down");
  EXPECT_FALSE(queue.submit(job("Too late")));
  model.open();
  finish(*a);
  EXPECT_EQ(a->result().stopReason, StopReason::Interrupted); // cancelled by the shutdown
}

} // namespace
} // namespace granite::runtime
