// The model as the runtime sees it. Generated code implements this interface (the compiled forward pass); the
// runtime's CLI, server, chat loop and samplers only call these functions. Tests use scripted fakes.
#pragma once

#include <cstdint>
#include <memory>

namespace granite::runtime {

/// A copy of a model's state after some prefix of tokens (KV entries of those positions, recurrent states), for
/// resuming there later (runtime/StateCache.h). Only the model that took it can restore it.
class ModelSnapshot {
public:
  virtual ~ModelSnapshot() = default;
  /// The memory the snapshot holds.
  virtual uint64_t bytes() const = 0;
};

class Model {
public:
  virtual ~Model() = default;

  /// Logits per position (the padded embedding rows: 100352 for Granite 4.0; at least the tokenizer's size).
  virtual int32_t vocabSize() const = 0;
  /// The most positions the model can hold, 0 for no limit.
  virtual int32_t contextLength() const = 0;
  /// Forgets every position (KV cache and recurrent state): the next forward starts at position 0.
  virtual void reset() = 0;
  /// Appends `count` ≥ 1 ids at the next positions and writes the final logits (already divided by the logit
  /// scale) of the last one to `lastLogits[0 .. vocabSize())`.
  virtual void forward(const int32_t *ids, int32_t count, float *lastLogits) = 0;

  /// Goes back to the first `positions` positions it holds, as if only their ids had been fed; false (and nothing
  /// changed) when the state cannot be rolled back (a recurrent state, or a fake without the notion).
  virtual bool truncate(int32_t /*positions*/) { return false; }
  /// A copy of the current state; nullptr when this model cannot take snapshots.
  virtual std::unique_ptr<ModelSnapshot> snapshot() const { return nullptr; }
  /// Puts the state of `snapshot` (taken by this model) back: the next forward continues after its positions.
  virtual void restore(const ModelSnapshot & /*snapshot*/) {}
};

} // namespace granite::runtime
