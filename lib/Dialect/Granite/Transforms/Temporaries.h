// The temporaries an op's lowering needs beyond its planned results (normalised rows, gate and up rows, router
// logits, MoE expert rows, a new recurrent state). They live in one region of the scratch after the arena and the
// positions table: granite-plan-memory sizes it (the largest over the ops), granite-to-kernels places them.
#pragma once

#include "mlir/IR/Operation.h"

namespace mlir::granite {

/// Bytes of `n` f32 values, rounded up to the scratch's 64-byte alignment.
int64_t alignedFloats(int64_t n);

/// moe_experts's temporaries for maxTokens tokens, as offsets into them: per (token, slot) expert outputs, then one
/// expert's gathered rows, its gate, up and hidden rows (or, for one token, those of its top-k experts), and the
/// slot each gathered row came from.
struct MoEExpertsTemporaries {
  MoEExpertsTemporaries(int64_t maxTokens, int64_t dim, int64_t ffn, int64_t topK);
  int64_t results = 0, rows, gate, up, hidden, slots, bytes;
};

/// Bytes of temporaries `op` needs for maxTokens tokens (0 for most ops).
int64_t temporaryBytes(Operation *op, int64_t maxTokens);

} // namespace mlir::granite
