// The server's one model, behind a bounded first-in-first-out queue: a worker thread runs one generation at a time;
// the HTTP thread that submitted a job waits for its text and result. The worker never writes to a socket, so a slow
// reader cannot stall the model (its text piles up in its own job), and a cancelled job stops within a token.
#pragma once

#include "runtime/Generator.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace granite::runtime {

class GenerationJob {
public:
  GenerationJob(std::vector<int32_t> prompt, GenerationLimits limits, SamplingParams sampling)
      : prompt_(std::move(prompt)), limits_(std::move(limits)), sampling_(std::move(sampling)) {}

  struct Update {
    std::string text;      ///< the reply text that arrived since the previous update
    bool started = false;  ///< the worker has taken the job
    bool finished = false; ///< result() (or error()) is final
  };
  /// Waits until new text arrives, the job finishes, or `timeout` passes.
  Update waitForUpdate(std::chrono::milliseconds timeout);
  /// Ends the generation after the current token (or skips it if it has not started).
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  /// Valid once an update said finished.
  const GenerationResult &result() const { return result_; }
  /// Why the job produced no result (shutdown, or the generator refused the prompt); empty when it ran.
  const std::string &error() const { return error_; }

private:
  friend class GenerationQueue;
  void start();
  void append(std::string_view text);
  void finish(GenerationResult result, std::string error);

  const std::vector<int32_t> prompt_;
  const GenerationLimits limits_;
  const SamplingParams sampling_;
  std::atomic<bool> cancelled_{false};

  std::mutex mutex_;
  std::condition_variable changed_;
  std::string pendingText_;
  bool started_ = false;
  bool finished_ = false;
  GenerationResult result_;
  std::string error_;
};

class GenerationQueue {
public:
  /// `onFinished` runs on the worker after each generation that ran (for metrics).
  GenerationQueue(Generator &generator, size_t maxWaiting, std::function<void(const GenerationResult &)> onFinished);
  /// Shuts down and joins the worker.
  ~GenerationQueue();
  GenerationQueue(const GenerationQueue &) = delete;
  GenerationQueue &operator=(const GenerationQueue &) = delete;

  /// Queues `job`; false when `maxWaiting` jobs already wait behind a running one, or the queue is shutting down.
  bool submit(const std::shared_ptr<GenerationJob> &job);
  /// Cancels the running job and finishes the waiting ones with an error; later submits are refused.
  void shutdown();

  size_t waiting() const;
  bool busy() const;

private:
  void work();

  Generator &generator_;
  const size_t maxWaiting_;
  std::function<void(const GenerationResult &)> onFinished_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<GenerationJob>> waiting_;
  std::shared_ptr<GenerationJob> running_;
  bool stopping_ = false;
  std::thread worker_;
};

} // namespace granite::runtime
