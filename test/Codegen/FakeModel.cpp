// A hand-written stand-in for the object granitec generates: implements runtime/ModelAbi.h with the computation of
// FakeModelFormula.h. FAKE_TABLE_OFFSET places its weight table in the blob (beyond 4 GiB for the large variant).
#include "FakeModelFormula.h"
#include "runtime/ModelAbi.h"

using namespace granite::fake;

// What the CPU must have: nothing, except in the needy variant, whose executable must refuse every CPU and name the
// one other target that runs.
#ifdef FAKE_NEEDY
#define FAKE_REQUIRED_FEATURES "granite-test-feature"
#define FAKE_OTHER_TARGETS "unrunnable-test:granite-other-feature;runnable-test:"
#else
#define FAKE_REQUIRED_FEATURES ""
#define FAKE_OTHER_TARGETS ""
#endif

namespace {

// State: a FakeState at the end of an arena as large as a small KV cache, so a runtime that allocates less, or
// forgets to zero it on reset, gives other logits (or crashes).
constexpr uint64_t kStateBytes = 64 * 1024;
// Scratch: the history sum of each token of the call.
constexpr uint64_t kScratchBytes = kMaxTokens * sizeof(float);

const GraniteModelInfo kInfo = {GRANITE_MODEL_ABI_VERSION,
                                kVocab,
                                kContext,
                                kMaxTokens,
                                kStateBytes,
                                kScratchBytes,
                                weightsBytes(FAKE_TABLE_OFFSET),
                                "fake-test",
                                "test-cpu",
                                "U8 x1",
                                "fake-build-" FAKE_VARIANT,
                                /*default_threads=*/2,
                                /*state_region_count=*/0, // the runtime then treats the state as one recurrent range
                                /*state_regions=*/nullptr,
                                FAKE_REQUIRED_FEATURES,
                                FAKE_OTHER_TARGETS};

int32_t threadsInEffect = 1;
GraniteParallelFor installedParallelFor = nullptr;
const uint8_t *lastWeights = nullptr;

} // namespace

extern "C" const GraniteModelInfo *granite_model_info(void) { return &kInfo; }

extern "C" void granite_set_parallel_for(GraniteParallelFor parallel_for) { installedParallelFor = parallel_for; }

extern "C" GraniteParallelFor fake_installed_parallel_for(void) { return installedParallelFor; }

/// The weights address the last granite_forward call was given.
extern "C" const uint8_t *fake_last_weights(void) { return lastWeights; }

extern "C" int32_t granite_set_threads(int32_t threads) {
  if (threads > 0) threadsInEffect = threads;
  return threadsInEffect;
}

extern "C" int32_t granite_forward(const uint8_t *weights, uint8_t *state, uint8_t *scratch, const int32_t *ids,
                                   int32_t count, int32_t start, int32_t all_logits, float *logits) {
  lastWeights = weights;
  if (count < 1 || count > kMaxTokens) return 1;
  if (start < 0 || start + count > kContext) return 2;
  const uint8_t *table = weights + FAKE_TABLE_OFFSET;
  FakeState &carried = *reinterpret_cast<FakeState *>(state + kStateBytes - sizeof(FakeState));
  float *history = reinterpret_cast<float *>(scratch);
  for (int32_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= kVocab) return 3;
    history[i] = advance(carried, table, ids[i], start + i);
  }
  for (int32_t i = all_logits ? 0 : count - 1; i < count; ++i) {
    float *row = logits + (all_logits ? static_cast<uint64_t>(i) * kVocab : 0);
    for (int32_t v = 0; v < kVocab; ++v) row[v] = logit(table, history[i], start + i, v);
  }
  return 0;
}
