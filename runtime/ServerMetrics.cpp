#include "runtime/ServerMetrics.h"

#include <sstream>

namespace granite::runtime {
namespace {

void family(std::ostringstream &out, const char *name, const char *type, const char *help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

template <typename T>
void sample(std::ostringstream &out, const char *name, const char *type, const char *help, T value) {
  family(out, name, type, help);
  out << name << " " << value << "\n";
}

} // namespace

void ServerMetrics::countResponse(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++responsesByStatus_[status];
}

void ServerMetrics::countGeneration(const GenerationResult &result, uint64_t cacheBytes, size_t cacheEntries) {
  std::lock_guard<std::mutex> lock(mutex_);
  cacheBytes_ = cacheBytes;
  cacheEntries_ = cacheEntries;
  ++generations_;
  promptTokens_ += result.promptTokens;
  evaluatedPromptTokens_ += result.evaluatedPromptTokens;
  completionTokens_ += result.ids.size();
  if (result.evaluatedPromptTokens < result.promptTokens) ++cacheHits_;
  prefillSeconds_ += result.promptSeconds;
  decodeSeconds_ += result.generationSeconds;
  if (result.promptSeconds > 0) lastPrefillRate_ = result.evaluatedPromptTokens / result.promptSeconds;
  if (result.generationSeconds > 0) lastDecodeRate_ = result.ids.size() / result.generationSeconds;
}

std::string ServerMetrics::prometheusText(size_t queueDepth, bool running) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out.precision(10);
  family(out, "granite_requests_total", "counter", "HTTP responses sent, by status code.");
  for (const auto &[status, count] : responsesByStatus_)
    out << "granite_requests_total{status=\"" << status << "\"} " << count << "\n";
  sample(out, "granite_generations_total", "counter", "Generations the model ran.", generations_);
  sample(out, "granite_prompt_tokens_total", "counter", "Prompt tokens of the generations.", promptTokens_);
  sample(out, "granite_prompt_tokens_evaluated_total", "counter",
         "Prompt tokens the model processed (the rest came from the held state or the state cache).",
         evaluatedPromptTokens_);
  sample(out, "granite_prompt_tokens_cached_total", "counter", "Prompt tokens reused without processing.",
         promptTokens_ - evaluatedPromptTokens_);
  sample(out, "granite_completion_tokens_total", "counter", "Generated tokens.", completionTokens_);
  sample(out, "granite_state_cache_hits_total", "counter",
         "Generations that resumed from the held state or a state-cache snapshot.", cacheHits_);
  sample(out, "granite_state_cache_misses_total", "counter", "Generations that processed their whole prompt.",
         generations_ - cacheHits_);
  sample(out, "granite_state_cache_bytes", "gauge", "Memory held by state-cache snapshots.", cacheBytes_);
  sample(out, "granite_state_cache_entries", "gauge", "Snapshots in the state cache.", cacheEntries_);
  sample(out, "granite_prefill_seconds_total", "counter", "Time spent processing prompts.", prefillSeconds_);
  sample(out, "granite_decode_seconds_total", "counter", "Time spent generating tokens.", decodeSeconds_);
  sample(out, "granite_prefill_tokens_per_second", "gauge", "Prompt processing speed of the last generation.",
         lastPrefillRate_);
  sample(out, "granite_decode_tokens_per_second", "gauge", "Generation speed of the last generation.", lastDecodeRate_);
  sample(out, "granite_queue_depth", "gauge", "Requests waiting for the model.", queueDepth);
  sample(out, "granite_requests_running", "gauge", "Requests the model is generating for (0 or 1).", running ? 1 : 0);
  return out.str();
}

} // namespace granite::runtime
