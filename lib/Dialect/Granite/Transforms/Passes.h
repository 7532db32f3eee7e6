// The granite dialect's passes (their order: Pipeline/GranitePipeline.h).
#pragma once

#include "Dialect/Granite/IR/GraniteOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::granite {

#define GEN_PASS_DECL
#include "Dialect/Granite/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Dialect/Granite/Transforms/Passes.h.inc"

/// granite-plan-weights: a weight's offset in the weight blob (on each granite.weight) and the blob's size (on the
/// module).
inline constexpr llvm::StringLiteral kBlobOffsetAttr = "granite.blob_offset";
inline constexpr llvm::StringLiteral kWeightBlobBytesAttr = "granite.weight_blob_bytes";
/// Alignment of each weight in the blob, and of the blob's size.
inline constexpr int64_t kWeightBlobAlignment = 64;

} // namespace mlir::granite
