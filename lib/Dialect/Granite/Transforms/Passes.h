// The granite dialect's passes and the order granitec runs them in.
#pragma once

#include "Dialect/Granite/IR/GraniteOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <functional>

namespace mlir::granite {

#define GEN_PASS_DECL
#include "Dialect/Granite/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Dialect/Granite/Transforms/Passes.h.inc"

/// One step of granitec's pipeline; `--emit-after=<name>` prints the IR after it.
struct PipelineStage {
  llvm::StringRef name;
  std::function<void(OpPassManager &)> add;
};

/// The model-level pipeline in order: verify, fold multipliers, fuse, plan memory.
llvm::ArrayRef<PipelineStage> granitePipeline();

} // namespace mlir::granite
