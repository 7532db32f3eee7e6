// Writes the weight blob a compiled model reads: every granite.weight of a module, at the offset granite-plan-weights
// gave it (granite.blob_offset), in the model's layout (transforms and widening applied, K-quant blocks in kernel
// order: Kernels/KernelWeightOrder.h). The lowering bakes the same offsets into the generated code.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <ostream>
#include <string>

namespace granite::codegen {

/// Writes the blob of `planned` (after granite-plan-weights): each weight's stored bytes read from its file,
/// transformed as its op says, zero padding up to granite.weight_blob_bytes. Streams one tensor at a time. Fails
/// (returns false, with `error` set) when a source cannot be read or the module has no plan.
bool writeWeightBlob(mlir::ModuleOp planned, std::ostream &out, std::string &error);

} // namespace granite::codegen
