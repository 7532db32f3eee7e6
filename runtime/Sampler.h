// Picks the next token from logits with llama.cpp's semantics and order: logit bias, penalties, top-k, top-p, min-p,
// temperature, then a draw from the softmax (or the argmax when temperature ≤ 0). Masked ids (the unused [PAD…]
// tokens) are never picked. The draw uses std::mt19937_64, whose output the C++ standard fixes, and our own
// float conversion, so the same seed gives the same tokens with any standard library.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <utility>
#include <vector>

namespace granite::runtime {

struct SamplingParams {
  float temperature = 0.0f;      ///< ≤ 0: greedy (IBM recommends 0 for Granite)
  int32_t topK = 40;             ///< ≤ 0: off
  float topP = 0.95f;            ///< ≥ 1: off
  float minP = 0.05f;            ///< ≤ 0: off
  float repeatPenalty = 1.0f;    ///< 1: off; positive logits are divided by it, negative ones multiplied
  float presencePenalty = 0.0f;  ///< subtracted once from every token seen in the window
  float frequencyPenalty = 0.0f; ///< subtracted once per occurrence in the window
  int32_t penaltyWindow = 64;    ///< how many recent tokens the penalties look at (0: off)
  std::vector<std::pair<int32_t, float>> logitBias; ///< added to those ids' logits first (OpenAI's logit_bias)
  uint64_t seed = 0;
};

struct TokenCandidate {
  int32_t id;
  float logit;
};

/// A sampled token's log-probability and the most likely alternatives at that step (log-softmax of the model's
/// logits over the ids that may be sampled, before bias, penalties and temperature), most likely first.
struct TokenLogprobs {
  TokenCandidate chosen;           ///< logit field: the log-probability
  std::vector<TokenCandidate> top; ///< likewise
};

class Sampler {
public:
  /// `neverSample[id]` true excludes `id` (its size is the logit count; shorter means the rest are allowed).
  Sampler(SamplingParams params, std::vector<bool> neverSample);

  /// Picks one id from `logits` (one per vocabulary entry); the logits are left untouched. With `allowed` (bit id of
  /// word id / 64, as runtime/TokenMask.h), only those ids: the mask comes first, before bias and penalties.
  int32_t sample(const std::vector<float> &logits, const std::vector<uint64_t> *allowed = nullptr);
  /// The log-probability of `chosen` in `logits` and the `top` most likely ids'.
  TokenLogprobs logprobs(const std::vector<float> &logits, int32_t chosen, int32_t top) const;
  /// Records a token of the context (prompt or generated) for the penalties.
  void accept(int32_t id);
  /// Forgets the penalty window (a new conversation); the random stream continues.
  void clearHistory() { recent_.clear(); }

private:
  SamplingParams params_;
  std::vector<bool> neverSample_;
  std::deque<int32_t> recent_;
  std::mt19937_64 random_;
};

/// The stages, exposed for tests. Each works on `candidates` (any order on input unless noted).
void applyPenalties(std::vector<TokenCandidate> &candidates, const std::deque<int32_t> &recent,
                    const SamplingParams &params);
/// Keeps the k highest logits, sorted descending.
void keepTopK(std::vector<TokenCandidate> &candidates, int32_t k);
/// Sorts descending and keeps the shortest prefix whose probability mass (softmax at temperature 1) reaches p.
void keepTopP(std::vector<TokenCandidate> &candidates, float p);
/// Keeps the tokens whose probability is at least minP times the largest one.
void keepMinP(std::vector<TokenCandidate> &candidates, float minP);

} // namespace granite::runtime
