#include "Pipeline/GranitePipeline.h"

#include "Conversion/GraniteToKernels/Passes.h"
#include "Dialect/Granite/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::granite;

ArrayRef<StringRef> mlir::granite::granitePipelinePassNames() {
  static const StringRef names[] = {"granite-verify-model",        "granite-fold-multipliers", "granite-fuse",
                                    "granite-plan-memory",         "granite-plan-weights",     "granite-to-kernels",
                                    "granite-kernel-calls-to-llvm"};
  return names;
}

void mlir::granite::buildGranitePipeline(OpPassManager &pm, const GranitePipelineOptions &options) {
  GranitePlanMemoryOptions plan;
  plan.maxTokens = options.maxTokens;
  plan.contextLength = options.contextLength;
  GraniteToKernelsOptions lowering;
  lowering.target = options.target;
  lowering.variant = options.variant;
  lowering.buildId = options.buildId;
  lowering.threads = options.threads;
  for (StringRef name : granitePipelinePassNames()) {
    if (name == "granite-verify-model")
      pm.addPass(createGraniteVerifyModel());
    else if (name == "granite-fold-multipliers")
      pm.addPass(createGraniteFoldMultipliers());
    else if (name == "granite-fuse")
      pm.addNestedPass<func::FuncOp>(createGraniteFuse());
    else if (name == "granite-plan-memory")
      pm.addPass(createGranitePlanMemory(plan));
    else if (name == "granite-plan-weights")
      pm.addPass(createGranitePlanWeights());
    else if (name == "granite-to-kernels")
      pm.addPass(createGraniteToKernels(lowering));
    else
      pm.addPass(createGraniteKernelCallsToLLVM());
    if (name == options.stopAfter) return;
  }
}

void mlir::granite::registerGranitePipeline() {
  PassPipelineRegistration<GranitePipelineOptions>(
      "granite-pipeline", "granitec's pipeline: the imported granite module to LLVM-dialect kernel calls",
      buildGranitePipeline);
}
