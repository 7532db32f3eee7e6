// The weight blob a compiled model reads: every granite.weight of a module, in symbol order, in the model's layout
// (transforms and widening applied, K-quant blocks in kernel order: Kernels/KernelWeightOrder.h), each at a 64-byte
// aligned offset. Both the lowering (which bakes the offsets into the generated code) and the packer (which writes
// the bytes into the executable or OUT.weights) use this one layout, computed from the IR alone.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace granite::codegen {

struct BlobEntry {
  std::string name; ///< the weight symbol, e.g. "blk.0.attn_q.weight"
  uint64_t offset;  ///< from the blob start, multiple of kBlobAlignment
  uint64_t bytes;   ///< in the weight type's storage format
};

struct WeightBlobLayout {
  static constexpr uint64_t kBlobAlignment = 64;
  std::vector<BlobEntry> entries;
  uint64_t totalBytes = 0;
  const BlobEntry *find(const std::string &name) const;
};

/// The layout of `module`'s granite.weight ops.
WeightBlobLayout planWeightBlob(mlir::ModuleOp module);

/// Writes the blob: each weight's stored bytes read from its file, transformed as its op says, zero padding between.
/// Streams one tensor at a time. Fails (returns false, with `error` set) when a source cannot be read.
bool writeWeightBlob(mlir::ModuleOp module, const WeightBlobLayout &layout, std::ostream &out, std::string &error);

} // namespace granite::codegen
