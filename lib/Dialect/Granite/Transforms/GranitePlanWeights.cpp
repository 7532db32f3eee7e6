#include "Dialect/Granite/Transforms/Passes.h"

#include "llvm/Support/MathExtras.h"

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITEPLANWEIGHTS
#include "Dialect/Granite/Transforms/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

struct GranitePlanWeights : mlir::granite::impl::GranitePlanWeightsBase<GranitePlanWeights> {
  using GranitePlanWeightsBase::GranitePlanWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    uint64_t end = 0;
    for (WeightOp weight : module.getOps<WeightOp>()) {
      uint64_t offset = llvm::alignTo(end, kWeightBlobAlignment);
      weight->setAttr(kBlobOffsetAttr, b.getI64IntegerAttr(offset));
      end = offset + weight.getType().getSizeInBytes();
    }
    module->setAttr(kWeightBlobBytesAttr, b.getI64IntegerAttr(llvm::alignTo(end, kWeightBlobAlignment)));
  }
};

} // namespace
