// A fake Model for CLI and generator tests: each reply follows a script of ids (greedy sampling picks them, since
// the scripted id gets the only high logit). It records what it was fed, and can raise SIGINT mid-reply.
#pragma once

#include "runtime/Model.h"

#include <csignal>
#include <cstdint>
#include <vector>

namespace granite::runtime::testing {

class ScriptedModel : public Model {
public:
  /// `replies[k]` is what the k-th reply emits, in order; past its end the model emits `endId`.
  ScriptedModel(int32_t vocabSize, std::vector<std::vector<int32_t>> replies, int32_t endId)
      : vocabSize_(vocabSize), replies_(std::move(replies)), endId_(endId) {}

  int32_t vocabSize() const override { return vocabSize_; }
  int32_t contextLength() const override { return contextLength_; }
  void reset() override {
    ++resets;
    held.clear();
  }
  void forward(const int32_t *ids, int32_t count, float *lastLogits) override {
    // Fed exactly the id it just emitted: the reply goes on. Anything else is a new prompt.
    if (count == 1 && inReply_ && ids[0] == emitted_) {
      ++step_;
      if (interruptAtStep >= 0 && step_ == interruptAtStep && reply_ == interruptReply) std::raise(SIGINT);
    } else {
      ++reply_;
      step_ = 0;
      inReply_ = true;
      promptCalls.push_back(std::vector<int32_t>(ids, ids + count));
    }
    held.insert(held.end(), ids, ids + count);
    const std::vector<int32_t> *script = reply_ < static_cast<int>(replies_.size()) ? &replies_[reply_] : nullptr;
    emitted_ = script && step_ < static_cast<int>(script->size()) ? (*script)[step_] : endId_;
    for (int32_t id = 0; id < vocabSize_; ++id) lastLogits[id] = 0.0f;
    lastLogits[emitted_] = 10.0f;
  }

  int32_t contextLength_ = 0;
  int interruptReply = -1;  ///< raise SIGINT in this reply (0-based) ...
  int interruptAtStep = -1; ///< ... when this generation step is fed
  int resets = 0;
  std::vector<int32_t> held;
  std::vector<std::vector<int32_t>> promptCalls; ///< the ids of each prompt feed

private:
  int32_t vocabSize_;
  std::vector<std::vector<int32_t>> replies_;
  int32_t endId_;
  int reply_ = -1;
  int step_ = 0;
  bool inReply_ = false;
  int32_t emitted_ = -1;
};

} // namespace granite::runtime::testing
