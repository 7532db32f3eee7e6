#include "Dialect/Granite/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;
using namespace mlir::granite;

llvm::ArrayRef<PipelineStage> mlir::granite::granitePipeline() {
  static const PipelineStage stages[] = {
      {"granite-verify-model", [](OpPassManager &pm) { pm.addPass(createGraniteVerifyModel()); }},
      {"granite-fold-multipliers", [](OpPassManager &pm) { pm.addPass(createGraniteFoldMultipliers()); }},
      {"granite-fuse", [](OpPassManager &pm) { pm.addNestedPass<func::FuncOp>(createGraniteFuse()); }},
      {"granite-plan-memory", [](OpPassManager &pm) { pm.addPass(createGranitePlanMemory()); }},
  };
  return stages;
}
