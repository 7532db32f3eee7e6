// How a weight's stored bytes become the values the model uses (spec §3.3), for tensors a Hugging Face checkpoint
// stores in another form than GGUF does; GGUF weights never need one. The frontend sets it, the dialect carries it
// as `#granite.transform` (its generated enum is checked against this one in GraniteTypes.cpp) and the weight reader
// applies it.
#pragma once

#include <cstdint>

namespace granite {

enum class WeightTransform : uint32_t {
  None = 0,
  NegExp = 1,              ///< stored A_log; the model uses A = -exp(A_log)
  RopePairsFromHalves = 2, ///< stored HF q/k rows (rotate_half order); the model uses GGUF adjacent-pair order per head
  ExpertsFirstHalf = 3,    ///< stored [E][2F][D] fused gate+up experts; the model uses each expert's first F rows
  ExpertsSecondHalf = 4,   ///< ... and each expert's last F rows
};

} // namespace granite
