// The model as the runtime sees it. Generated code implements this interface (the compiled forward pass); the
// runtime's CLI, chat loop and samplers only call these four functions. Tests use scripted fakes.
#pragma once

#include <cstdint>

namespace granite::runtime {

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
};

} // namespace granite::runtime
