// The Model of runtime/Model.h over the C ABI of the generated object (runtime/ModelAbi.h): owns the state and the
// scratch arena that granite_model_info() asks for and feeds tokens in calls of at most max_tokens.
#pragma once

#include "runtime/Model.h"
#include "runtime/ModelAbi.h"
#include "runtime/WeightMemory.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace granite::runtime {

/// The compiled model cannot run: wrong ABI, wrong weight blob, full context or a kernel error. One line.
class ModelError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class CompiledModel : public Model {
public:
  /// `weights` must outlive the model; its size must be the model's weights_bytes. Every granite_forward call reads
  /// the weights where weights.data() is when it starts, so a background copy takes over between two calls.
  explicit CompiledModel(const WeightMemory &weights);
  CompiledModel(const WeightMemory &&) = delete; // a temporary would go while the model still reads it
  ~CompiledModel() override;
  CompiledModel(const CompiledModel &) = delete;
  CompiledModel &operator=(const CompiledModel &) = delete;

  int32_t vocabSize() const override { return info_.vocab_size; }
  int32_t contextLength() const override { return contextLength_; }
  void reset() override;
  void forward(const int32_t *ids, int32_t count, float *lastLogits) override;
  bool truncate(int32_t positions) override;
  std::unique_ptr<ModelSnapshot> snapshot() const override;
  void restore(const ModelSnapshot &snapshot) override;

  /// Uses only the first `positions` positions of the compiled context (-c); throws ModelError above it.
  void limitContext(int32_t positions);

  /// Like forward, but writes the logits of every token: [count][vocabSize()].
  void forwardAll(const int32_t *ids, int32_t count, float *allLogits);
  /// Feeds at most `tokens` tokens per granite_forward call from now on (0 or more than max_tokens: max_tokens); a
  /// piece of one token is only fed alone when the call has one token, or when `tokens` is 1 or 2.
  void setChunkSize(int32_t tokens);
  int32_t chunkSize() const { return chunkSize_; }
  /// Threads the kernels run on, the caller's included (0: the compiled default, else one per CPU); returns the
  /// number in effect.
  int32_t setThreads(int32_t threads);
  int32_t threads() const;

  const GraniteModelInfo &info() const { return info_; }
  int32_t position() const { return position_; }

private:
  void run(const int32_t *ids, int32_t count, bool allLogits, float *logits);

  const GraniteModelInfo &info_;
  const WeightMemory &weights_;
  std::vector<GraniteStateRegion> regions_;
  uint8_t *state_ = nullptr;
  uint8_t *scratch_ = nullptr;
  int32_t contextLength_;
  int32_t chunkSize_;
  int32_t position_ = 0;
  bool recurrent_ = false; ///< some state region is a recurrent state (it cannot be truncated)
};

} // namespace granite::runtime
