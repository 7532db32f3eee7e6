// The server's counters, served by GET /metrics in Prometheus' text format (version 0.0.4).
#pragma once

#include "runtime/Generator.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace granite::runtime {

class ServerMetrics {
public:
  /// One HTTP response, by status (a stream counts when its headers go out).
  void countResponse(int status);
  /// One generation that ran, and the state cache's size after it (read on the worker thread, its only user).
  void countGeneration(const GenerationResult &result, uint64_t cacheBytes, size_t cacheEntries);

  /// The exposition text; `queueDepth` requests wait, `running` one is generating.
  std::string prometheusText(size_t queueDepth, bool running) const;

private:
  mutable std::mutex mutex_;
  std::map<int, uint64_t> responsesByStatus_;
  uint64_t generations_ = 0;
  uint64_t promptTokens_ = 0;
  uint64_t evaluatedPromptTokens_ = 0;
  uint64_t completionTokens_ = 0;
  uint64_t cacheHits_ = 0; ///< generations that reused some of their prompt
  double prefillSeconds_ = 0;
  double decodeSeconds_ = 0;
  double lastPrefillRate_ = 0;
  double lastDecodeRate_ = 0;
  uint64_t cacheBytes_ = 0;
  size_t cacheEntries_ = 0;
};

} // namespace granite::runtime
