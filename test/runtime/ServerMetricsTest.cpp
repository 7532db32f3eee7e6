// The /metrics text of the server (runtime/ServerMetrics.h).
#include "runtime/ServerMetrics.h"

#include <gtest/gtest.h>

namespace granite::runtime {
namespace {

/// The value of the sample line that starts with `name` followed by a space.
std::string sampleValue(const std::string &text, const std::string &name) {
  size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return "(missing)";
  size_t start = at + name.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

TEST(ServerMetrics, CountsResponsesGenerationsAndTheQueue) {
  ServerMetrics metrics;
  metrics.countResponse(200);
  metrics.countResponse(200);
  metrics.countResponse(400);
  GenerationResult cached;
  cached.promptTokens = 100;
  cached.evaluatedPromptTokens = 10;
  cached.ids = {1, 2, 3, 4};
  cached.promptSeconds = 0.5;
  cached.generationSeconds = 2.0;
  metrics.countGeneration(cached, 4096, 2);
  GenerationResult fresh;
  fresh.promptTokens = 30;
  fresh.evaluatedPromptTokens = 30;
  fresh.ids = {5};
  metrics.countGeneration(fresh, 8192, 3);

  std::string text = metrics.prometheusText(3, true);
  EXPECT_EQ(sampleValue(text, "granite_requests_total{status=\"200\"}"), "2");
  EXPECT_EQ(sampleValue(text, "granite_requests_total{status=\"400\"}"), "1");
  EXPECT_EQ(sampleValue(text, "granite_generations_total"), "2");
  EXPECT_EQ(sampleValue(text, "granite_prompt_tokens_total"), "130");
  EXPECT_EQ(sampleValue(text, "granite_prompt_tokens_evaluated_total"), "40");
  EXPECT_EQ(sampleValue(text, "granite_prompt_tokens_cached_total"), "90");
  EXPECT_EQ(sampleValue(text, "granite_completion_tokens_total"), "5");
  EXPECT_EQ(sampleValue(text, "granite_state_cache_hits_total"), "1");
  EXPECT_EQ(sampleValue(text, "granite_state_cache_misses_total"), "1");
  EXPECT_EQ(sampleValue(text, "granite_state_cache_bytes"), "8192");
  EXPECT_EQ(sampleValue(text, "granite_state_cache_entries"), "3");
  // The speeds of the last generation that had time to measure: 10 tokens in 0.5 s, 4 in 2 s.
  EXPECT_EQ(sampleValue(text, "granite_prefill_tokens_per_second"), "20");
  EXPECT_EQ(sampleValue(text, "granite_decode_tokens_per_second"), "2");
  EXPECT_EQ(sampleValue(text, "granite_queue_depth"), "3");
  EXPECT_EQ(sampleValue(text, "granite_requests_running"), "1");
  // Every family has its HELP and TYPE lines.
  EXPECT_NE(text.find("# TYPE granite_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE granite_queue_depth gauge\n"), std::string::npos);
}

} // namespace
} // namespace granite::runtime
