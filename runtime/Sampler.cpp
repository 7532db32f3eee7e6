#include "runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

namespace granite::runtime {
namespace {

/// Descending logit, then ascending id, so that every sort is deterministic.
bool higher(const TokenCandidate &a, const TokenCandidate &b) {
  return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
}

/// Probabilities (softmax at temperature 1) of `candidates` in their current order.
std::vector<double> probabilities(const std::vector<TokenCandidate> &candidates) {
  float maxLogit = -INFINITY;
  for (const TokenCandidate &c : candidates) maxLogit = std::max(maxLogit, c.logit);
  std::vector<double> p(candidates.size());
  double sum = 0;
  for (size_t i = 0; i < candidates.size(); ++i) sum += p[i] = std::exp(double(candidates[i].logit) - maxLogit);
  for (double &value : p) value /= sum;
  return p;
}

} // namespace

void applyPenalties(std::vector<TokenCandidate> &candidates, const std::deque<int32_t> &recent,
                    const SamplingParams &params) {
  if (recent.empty()) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t id : recent) ++counts[id];
  for (TokenCandidate &c : candidates) {
    auto it = counts.find(c.id);
    if (it == counts.end()) continue;
    c.logit = c.logit <= 0 ? c.logit * params.repeatPenalty : c.logit / params.repeatPenalty;
    c.logit -= float(it->second) * params.frequencyPenalty + params.presencePenalty;
  }
}

void keepTopK(std::vector<TokenCandidate> &candidates, int32_t k) {
  size_t keep = std::min<size_t>(static_cast<size_t>(std::max(k, 1)), candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                    higher);
  candidates.resize(keep);
}

void keepTopP(std::vector<TokenCandidate> &candidates, float p) {
  std::sort(candidates.begin(), candidates.end(), higher);
  std::vector<double> probs = probabilities(candidates);
  double mass = 0;
  size_t keep = 0;
  while (keep < candidates.size()) {
    mass += probs[keep++];
    if (mass >= p) break;
  }
  candidates.resize(keep);
}

void keepMinP(std::vector<TokenCandidate> &candidates, float minP) {
  float maxLogit = -INFINITY;
  for (const TokenCandidate &c : candidates) maxLogit = std::max(maxLogit, c.logit);
  // p_i ≥ minP·p_max  ⟺  logit_i ≥ maxLogit + log(minP)
  const float threshold = maxLogit + std::log(minP);
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [&](const TokenCandidate &c) { return c.logit < threshold; }),
                   candidates.end());
}

Sampler::Sampler(SamplingParams params, std::vector<bool> neverSample)
    : params_(params), neverSample_(std::move(neverSample)), random_(params.seed) {
  if (params_.repeatPenalty <= 0) throw std::invalid_argument("the repeat penalty must be positive");
}

void Sampler::accept(int32_t id) {
  if (params_.penaltyWindow <= 0) return;
  recent_.push_back(id);
  while (recent_.size() > static_cast<size_t>(params_.penaltyWindow)) recent_.pop_front();
}

TokenLogprobs Sampler::logprobs(const std::vector<float> &logits, int32_t chosen, int32_t top) const {
  auto sampleable = [&](size_t id) { return id >= neverSample_.size() || !neverSample_[id]; };
  float maxLogit = -INFINITY;
  for (size_t id = 0; id < logits.size(); ++id)
    if (sampleable(id)) maxLogit = std::max(maxLogit, logits[id]);
  double sum = 0;
  for (size_t id = 0; id < logits.size(); ++id)
    if (sampleable(id)) sum += std::exp(double(logits[id]) - maxLogit);
  const double logSum = maxLogit + std::log(sum);
  auto logprob = [&](int32_t id) { return static_cast<float>(logits.at(static_cast<size_t>(id)) - logSum); };

  TokenLogprobs result{{chosen, logprob(chosen)}, {}};
  if (top > 0) {
    std::vector<TokenCandidate> candidates;
    for (size_t id = 0; id < logits.size(); ++id)
      if (sampleable(id)) candidates.push_back({static_cast<int32_t>(id), logits[id]});
    keepTopK(candidates, top);
    for (const TokenCandidate &c : candidates) result.top.push_back({c.id, logprob(c.id)});
  }
  return result;
}

int32_t Sampler::sample(const std::vector<float> &logits, const std::vector<uint64_t> *allowed) {
  std::vector<TokenCandidate> candidates;
  candidates.reserve(logits.size());
  for (size_t id = 0; id < logits.size(); ++id)
    if ((id >= neverSample_.size() || !neverSample_[id]) &&
        (!allowed || ((id >> 6) < allowed->size() && ((*allowed)[id >> 6] >> (id & 63) & 1))))
      candidates.push_back({static_cast<int32_t>(id), logits[id]});
  if (candidates.empty()) throw std::invalid_argument("no token may be sampled (all are masked)");

  if (!params_.logitBias.empty()) {
    std::unordered_map<int32_t, float> bias(params_.logitBias.begin(), params_.logitBias.end());
    for (TokenCandidate &c : candidates)
      if (auto it = bias.find(c.id); it != bias.end()) c.logit += it->second;
  }
  applyPenalties(candidates, recent_, params_);
  if (params_.temperature <= 0) return std::min_element(candidates.begin(), candidates.end(), higher)->id;
  if (params_.topK > 0) keepTopK(candidates, params_.topK);
  if (params_.topP < 1) keepTopP(candidates, params_.topP);
  if (params_.minP > 0) keepMinP(candidates, params_.minP);
  for (TokenCandidate &c : candidates) c.logit /= params_.temperature;

  std::vector<double> probs = probabilities(candidates);
  // 53 random bits → a double in [0, 1), the same on every platform.
  const double u = static_cast<double>(random_() >> 11) * 0x1.0p-53;
  double cumulative = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += probs[i];
    if (u < cumulative) return candidates[i].id;
  }
  return candidates.back().id; // u fell into the rounding gap just below 1
}

} // namespace granite::runtime
