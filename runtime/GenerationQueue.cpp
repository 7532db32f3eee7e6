#include "runtime/GenerationQueue.h"

namespace granite::runtime {

GenerationJob::Update GenerationJob::waitForUpdate(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return finished_ || !pendingText_.empty(); });
  Update update;
  update.text = std::move(pendingText_);
  pendingText_.clear();
  update.started = started_;
  update.finished = finished_;
  return update;
}

void GenerationJob::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  started_ = true;
}

void GenerationJob::append(std::string_view text) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pendingText_.append(text);
  }
  changed_.notify_all();
}

void GenerationJob::finish(GenerationResult result, std::string error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = std::move(result);
    error_ = std::move(error);
    started_ = true;
    finished_ = true;
  }
  changed_.notify_all();
}

GenerationQueue::GenerationQueue(Generator &generator, size_t maxWaiting,
                                 std::function<void(const GenerationResult &)> onFinished)
    : generator_(generator), maxWaiting_(maxWaiting), onFinished_(std::move(onFinished)), worker_([this] { work(); }) {}

GenerationQueue::~GenerationQueue() {
  shutdown();
  worker_.join();
}

bool GenerationQueue::submit(const std::shared_ptr<GenerationJob> &job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Counted with the running job: a job that is about to be taken by an idle worker waits for nothing.
    if (stopping_ || waiting_.size() + (running_ ? 1 : 0) > maxWaiting_) return false;
    waiting_.push_back(job);
  }
  wake_.notify_all();
  return true;
}

void GenerationQueue::shutdown() {
  std::deque<std::shared_ptr<GenerationJob>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(waiting_);
    if (running_) running_->cancel();
  }
  wake_.notify_all();
  for (const auto &job : dropped) job->finish({}, "the server is shutting down");
}

size_t GenerationQueue::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_.size();
}

bool GenerationQueue::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_ != nullptr;
}

void GenerationQueue::work() {
  for (;;) {
    std::shared_ptr<GenerationJob> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return; // stopping
      job = waiting_.front();
      waiting_.pop_front();
      running_ = job;
    }
    // A client that went away while its job waited costs no prefill.
    if (job->cancelled()) {
      GenerationResult skipped;
      skipped.stopReason = StopReason::Interrupted;
      job->finish(std::move(skipped), "");
    } else {
      job->start();
      try {
        generator_.setSampling(job->sampling_);
        GenerationResult result = generator_.generate(
            job->prompt_, job->limits_, [&](std::string_view text) { job->append(text); }, &job->cancelled_);
        if (onFinished_) onFinished_(result);
        job->finish(std::move(result), "");
      } catch (const std::exception &e) {
        job->finish({}, e.what());
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    running_.reset();
  }
}

} // namespace granite::runtime
