// The model ABI's functions besides granite_forward (runtime/ModelAbi.h): granite_model_info, a constant
// GraniteModelInfo; granite_set_threads and granite_set_parallel_for, which hand the thread settings to Halide.
#pragma once

#include "Conversion/GraniteToKernels/KernelBuilder.h"
#include "Target/CpuFamily.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::granite {

/// What granite_model_info reports beyond the memory plan and the model's types.
struct ModelInfoOptions {
  std::string variant, buildId;
  int64_t threads = 0; ///< GraniteModelInfo::default_threads (0: one per CPU)
  const ::granite::target::CpuFamily *family = nullptr;
};

/// Emits the three functions at the end of `module`, from the planned (not yet lowered) `forward`.
void emitModelInfoFunctions(ModuleOp module, func::FuncOp forward, const ForwardPlan &plan,
                            const ModelInfoOptions &options);

} // namespace mlir::granite
