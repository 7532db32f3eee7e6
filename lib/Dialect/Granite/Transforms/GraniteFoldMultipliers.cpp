#include "Dialect/Granite/Transforms/Passes.h"

namespace mlir::granite {
#define GEN_PASS_DEF_GRANITEFOLDMULTIPLIERS
#include "Dialect/Granite/Transforms/Passes.h.inc"
} // namespace mlir::granite

using namespace mlir;
using namespace mlir::granite;

namespace {

bool isOne(std::optional<APFloat> scale) { return scale && scale->isExactlyValue(1.0); }

struct GraniteFoldMultipliers : mlir::granite::impl::GraniteFoldMultipliersBase<GraniteFoldMultipliers> {
  void runOnOperation() override {
    // Move residual scales into the epilogue of the linear that produces the scaled value.
    getOperation().walk([](ScaledAddOp add) {
      auto linear = add.getRhs().getDefiningOp<LinearOp>();
      if (!add.getScale() || !linear || !linear->hasOneUse() || linear.getOutputScale()) return;
      linear.setOutputScaleAttr(add.getScaleAttr());
      add.removeScaleAttr();
    });
    // Multiplying by exactly 1 changes nothing.
    getOperation().walk([](Operation *op) {
      if (auto embed = dyn_cast<EmbedOp>(op); embed && isOne(embed.getScale()))
        embed.removeScaleAttr();
      else if (auto add = dyn_cast<ScaledAddOp>(op); add && isOne(add.getScale()))
        add.removeScaleAttr();
      else if (auto linear = dyn_cast<LinearOp>(op); linear && isOne(linear.getOutputScale()))
        linear.removeOutputScaleAttr();
      else if (auto logits = dyn_cast<LogitsOp>(op); logits && isOne(logits.getLogitScale()))
        logits.removeLogitScaleAttr();
    });
  }
};

} // namespace
