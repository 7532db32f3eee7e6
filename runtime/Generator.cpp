#include "runtime/Generator.h"

#include "runtime/StreamingDecoder.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace granite::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<bool> unsampleableIds(const Model &model, const Tokenizer &tokenizer) {
  if (model.vocabSize() < tokenizer.size())
    throw std::invalid_argument("the model has " + std::to_string(model.vocabSize()) + " logits but the vocabulary " +
                                std::to_string(tokenizer.size()) + " tokens");
  std::vector<bool> never(static_cast<size_t>(model.vocabSize()), true); // rows past the vocabulary too
  for (int32_t id = 0; id < tokenizer.size(); ++id) never[id] = tokenizer.isUnused(id);
  return never;
}

/// The length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t pendingStopPrefix(std::string_view text, const std::vector<std::string> &stops) {
  size_t longest = 0;
  for (const std::string &stop : stops)
    for (size_t n = std::min(stop.size() - 1, text.size()); n > longest; --n)
      if (text.substr(text.size() - n) == std::string_view(stop).substr(0, n)) {
        longest = n;
        break;
      }
  return longest;
}

} // namespace

const char *stopReasonName(StopReason reason) {
  switch (reason) {
  case StopReason::EndOfGeneration: return "end_of_generation";
  case StopReason::StopString: return "stop_string";
  case StopReason::MaxTokens: return "max_tokens";
  case StopReason::ContextFull: return "context_full";
  case StopReason::Interrupted: return "interrupted";
  }
  return "unknown";
}

Generator::Generator(Model &model, Tokenizer &tokenizer, SamplingParams sampling, StateCache *cache)
    : model_(model), tokenizer_(tokenizer), cache_(cache), snapshots_(cache && cache->capacityBytes() > 0),
      neverSample_(unsampleableIds(model, tokenizer)), sampler_(sampling, neverSample_),
      logits_(static_cast<size_t>(model.vocabSize())) {}

void Generator::setSampling(const SamplingParams &sampling) { sampler_ = Sampler(sampling, neverSample_); }

void Generator::rememberState() {
  if (!snapshots_ || held_.empty() || cache_->contains(held_)) return;
  std::unique_ptr<ModelSnapshot> snapshot = model_.snapshot();
  if (!snapshot) {
    snapshots_ = false; // this model cannot take them: reuse falls back to extending what it holds
    return;
  }
  cache_->insert(held_, std::move(snapshot));
}

void Generator::feed(const int32_t *ids, int32_t count) {
  model_.forward(ids, count, logits_.data());
  held_.insert(held_.end(), ids, ids + count);
}

void Generator::feedPrompt(const std::vector<int32_t> &prompt, GenerationResult &result) {
  if (prompt.empty()) throw std::invalid_argument("the prompt has no tokens");
  if (model_.contextLength() > 0 && prompt.size() >= static_cast<size_t>(model_.contextLength()))
    throw std::invalid_argument("the prompt has " + std::to_string(prompt.size()) +
                                " tokens, the model's context holds " + std::to_string(model_.contextLength()));
  const bool heldAnything = !held_.empty();
  size_t reused = 0;
  if (!(cache_ && cache_->capacityBytes() == 0)) {
    // With snapshots, a prompt gives the same logits as when it is prefilled from its first token, bit for bit
    // (MoE models: to the rounding of their expert groups, docs/executable.md):
    // reuse stops where the last prompt ended, because the reply's ids after it were fed one at a time, and a
    // matrix-vector product rounds differently from the matrix product of a prefill (BF16 targets round the
    // activations too). Those ids are prefilled again, after the snapshot of the prompt, in pieces of at least two
    // tokens (CompiledModel::forward), as a prefill from the start would feed them. At least one id is always fed,
    // so that the logits are those after the prompt.
    const size_t limit = snapshots_ ? std::max<size_t>(prompt.size(), 2) - 2 : prompt.size() - 1;
    size_t common = std::mismatch(held_.begin(), held_.end(), prompt.begin(), prompt.end()).first - held_.begin();
    common = std::min({common, limit, snapshots_ ? prefilled_ : held_.size()});
    // What the model holds is reused when the prompt extends it, or when the model can roll back to the common
    // part (attention only: a recurrent state cannot).
    if (common == held_.size() || (common > 0 && model_.truncate(static_cast<int32_t>(common)))) reused = common;
    held_.resize(reused);
    if (snapshots_)
      if (const StateCache::Entry *entry = cache_->longestPrefix(prompt, reused + 1, limit)) {
        model_.restore(*entry->snapshot);
        held_ = entry->tokens;
        reused = held_.size();
      }
  }
  if (reused == 0) {
    held_.clear();
    if (heldAnything) model_.reset();
  }
  feed(prompt.data() + reused, static_cast<int32_t>(prompt.size() - reused));
  prefilled_ = prompt.size();
  result.evaluatedPromptTokens = static_cast<int32_t>(prompt.size() - reused);
  rememberState();
  sampler_.clearHistory();
  for (int32_t id : prompt) sampler_.accept(id);
}

GenerationResult Generator::generate(const std::vector<int32_t> &prompt, const GenerationLimits &limits,
                                     const std::function<void(std::string_view)> &onText,
                                     const std::atomic<bool> *interrupt) {
  GenerationResult result;
  result.promptTokens = static_cast<int32_t>(prompt.size());
  auto start = Clock::now();
  feedPrompt(prompt, result);
  result.promptSeconds = secondsSince(start);

  start = Clock::now();
  StreamingDecoder decoder(tokenizer_, limits.renderSpecial, limits.rawBytes);
  std::string text;   // decoded so far
  size_t emitted = 0; // how much of `text` went to onText
  auto emitUpTo = [&](size_t end) {
    if (end > emitted) onText(std::string_view(text).substr(emitted, end - emitted));
    emitted = std::max(emitted, end);
  };
  for (;;) {
    if (interrupt && interrupt->load()) {
      result.stopReason = StopReason::Interrupted;
      break;
    }
    JsonConstraint *constraint = limits.constraint.get();
    const TokenMask *allowed = nullptr;
    if (constraint) {
      auto maskStart = Clock::now();
      allowed = &constraint->allowed();
      result.maskSeconds += secondsSince(maskStart);
    }
    int32_t id = sampler_.sample(logits_, allowed);
    sampler_.accept(id);
    if (constraint) constraint->accept(id);
    if (tokenizer_.isEndOfGeneration(id) ||
        std::find(limits.stopIds.begin(), limits.stopIds.end(), id) != limits.stopIds.end()) {
      result.stopReason = StopReason::EndOfGeneration;
      break;
    }
    result.ids.push_back(id);
    if (limits.topLogprobs >= 0) result.logprobs.push_back(sampler_.logprobs(logits_, id, limits.topLogprobs));
    size_t searchFrom = text.size();
    text += decoder.push(id);
    bool stopped = false;
    for (const std::string &stop : limits.stopStrings) {
      size_t at = text.find(stop, searchFrom >= stop.size() ? searchFrom - stop.size() + 1 : 0);
      if (at != std::string::npos) {
        text.resize(at);
        stopped = true;
      }
    }
    if (stopped) {
      result.stopReason = StopReason::StopString;
      break;
    }
    emitUpTo(text.size() - pendingStopPrefix(text, limits.stopStrings));
    if (limits.maxTokens >= 0 && result.ids.size() >= static_cast<size_t>(limits.maxTokens)) {
      result.stopReason = StopReason::MaxTokens;
      break;
    }
    if (model_.contextLength() > 0 && held_.size() + 1 >= static_cast<size_t>(model_.contextLength())) {
      result.stopReason = StopReason::ContextFull;
      break;
    }
    feed(&id, 1);
  }
  if (limits.constraint) result.incomplete = !limits.constraint->complete();
  if (result.stopReason != StopReason::StopString) text += decoder.flush();
  emitUpTo(text.size());
  result.text = std::move(text);
  result.generationSeconds = secondsSince(start);
  return result;
}

} // namespace granite::runtime
